"""DingTalk's callback cryptography (HTTP event subscription), pure: no database, no web framework.

A callback is ``POST ?signature=…&timestamp=…&nonce=…`` with the body ``{"encrypt": "<base64>"}``:

- ``signature`` is the SHA-1 hex digest of the four strings token, timestamp, nonce and encrypt, sorted and
  concatenated;
- ``encrypt`` is AES-256-CBC with the key ``base64decode(aes_key + "=")`` (the 43 characters the console shows)
  and the IV its first 16 bytes, over 16 random bytes, the message's length (4 bytes, big-endian), the message
  (UTF-8 JSON) and the owner key (the app key of an in-house app, the corp id or a suite key), padded PKCS#7 to
  a multiple of 32 bytes.

Every answer is ``{"msg_signature", "timeStamp", "nonce", "encrypt"}``: the word ``success`` encrypted the same
way, and signed over that ciphertext."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # DingTalk pads to 32 bytes, not AES's 16
RANDOM = 16
KEY_CHARS = 43
SUCCESS = "success"


class CryptoError(ValueError):
    """The callback cannot be trusted: its signature, its ciphertext or its owner key is wrong."""


def aes_key(encoding_key: str) -> bytes:
    """The 32-byte AES key from the 43 characters of the console."""
    if len(encoding_key) != KEY_CHARS:
        raise CryptoError("the AES key must be 43 characters")
    try:
        key = base64.b64decode(encoding_key + "=", validate=True)
    except binascii.Error as exc:
        raise CryptoError("the AES key is not base64") from exc
    if len(key) != 32:
        raise CryptoError("the AES key must decode to 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """SHA-1 hex over the four strings sorted and concatenated."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypt))).encode()).hexdigest()


def verify(token: str, timestamp: str, nonce: str, encrypt: str, given: str) -> None:
    """Raise ``CryptoError`` unless ``given`` is the signature of the other four (compared in constant time)."""
    if not hmac.compare_digest(signature(token, timestamp, nonce, encrypt).encode(), given.lower().encode()):
        raise CryptoError("bad signature")


def _pad(data: bytes) -> bytes:
    count = BLOCK - len(data) % BLOCK
    return data + bytes([count]) * count


def _unpad(data: bytes) -> bytes:
    count = data[-1] if data else 0
    if not 1 <= count <= BLOCK or count > len(data) or data[-count:] != bytes([count]) * count:
        raise CryptoError("bad padding")
    return data[:-count]


def encrypt(encoding_key: str, owner: str, message: bytes, *, random: bytes | None = None) -> str:
    """The base64 ciphertext of ``message`` for ``owner``; ``random`` (16 bytes) is drawn when not given."""
    key = aes_key(encoding_key)
    lead = os.urandom(RANDOM) if random is None else random
    if len(lead) != RANDOM:
        raise CryptoError("the random prefix must be 16 bytes")
    plain = _pad(lead + struct.pack(">I", len(message)) + message + owner.encode())
    cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(cipher.update(plain) + cipher.finalize()).decode("ascii")


def decrypt(encoding_key: str, owner: str, encrypted: str) -> bytes:
    """The message inside ``encrypted``; ``CryptoError`` when it does not decrypt or names another owner."""
    key = aes_key(encoding_key)
    try:
        data = base64.b64decode(encrypted, validate=True)
    except binascii.Error as exc:
        raise CryptoError("the ciphertext is not base64") from exc
    if not data or len(data) % 16:
        raise CryptoError("the ciphertext is not whole AES blocks")
    cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = _unpad(cipher.update(data) + cipher.finalize())
    if len(plain) < RANDOM + 4:
        raise CryptoError("the plaintext is too short")
    (length,) = struct.unpack(">I", plain[RANDOM:RANDOM + 4])
    end = RANDOM + 4 + length
    if end > len(plain):
        raise CryptoError("the message length runs past the plaintext")
    if not hmac.compare_digest(plain[end:], owner.encode()):
        raise CryptoError("the message is for another app")
    return plain[RANDOM + 4:end]


def open_callback(token: str, encoding_key: str, owner: str, *, timestamp: str, nonce: str, encrypted: str,
                  given: str) -> bytes:
    """Check a callback's signature, then decrypt it."""
    verify(token, timestamp, nonce, encrypted, given)
    return decrypt(encoding_key, owner, encrypted)


def reply(token: str, encoding_key: str, owner: str, *, timestamp: str, nonce: str, text: str = SUCCESS,
          random: bytes | None = None) -> dict[str, str]:
    """The answer DingTalk expects: ``text`` encrypted for ``owner`` and signed, with the timestamp and nonce."""
    encrypted = encrypt(encoding_key, owner, text.encode(), random=random)
    return {"msg_signature": signature(token, timestamp, nonce, encrypted), "timeStamp": timestamp,
            "nonce": nonce, "encrypt": encrypted}
