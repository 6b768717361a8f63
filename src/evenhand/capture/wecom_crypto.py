"""WeCom's callback cryptography (企业微信回调加解密), without I/O.

- ``msg_signature`` is the SHA-1 hex digest of ``token``, ``timestamp``, ``nonce`` and the ciphertext, sorted
  lexicographically and concatenated.
- The AES key is ``base64decode(EncodingAESKey + "=")`` (32 bytes, AES-256); CBC with the key's first 16 bytes as
  IV; PKCS#7 padding to a multiple of **32** bytes (not AES's 16: a pad value of 17 to 32 is normal).
- The plaintext is 16 random bytes, the message's length as 4 bytes big-endian, the message, then the receive id
  (the corp id for an internal app's callbacks).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeCom pads to 32 bytes


class CryptoError(Exception):
    """A payload that does not decrypt to WeCom's layout, or a key that is not an EncodingAESKey."""


def signature(token: str, timestamp: str, nonce: str, ciphertext: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, ciphertext])).encode()).hexdigest()


def signed(token: str, timestamp: str, nonce: str, ciphertext: str, sent: str) -> bool:
    return hmac.compare_digest(signature(token, timestamp, nonce, ciphertext), sent.strip().lower())


def aes_key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key.strip() + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise CryptoError("EncodingAESKey must decode to 32 bytes (43 characters)")
    return key


def pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def unpad(data: bytes) -> bytes:
    if not data:
        raise CryptoError("empty plaintext")
    n = data[-1]
    if not 1 <= n <= BLOCK or n > len(data) or data[-n:] != bytes([n]) * n:
        raise CryptoError("bad padding")
    return data[:-n]


@dataclass(frozen=True)
class Opened:
    message: bytes
    receive_id: str


def decrypt(key: bytes, ciphertext: str) -> Opened:
    try:
        raw = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("ciphertext is not base64") from exc
    if not raw or len(raw) % 16:
        raise CryptoError("ciphertext is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = unpad(decryptor.update(raw) + decryptor.finalize())
    if len(plain) < 20:
        raise CryptoError("plaintext too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise CryptoError("message length past the end")
    try:
        receive_id = plain[20 + length:].decode()
    except UnicodeDecodeError as exc:
        raise CryptoError("receive id is not UTF-8") from exc
    return Opened(plain[20:20 + length], receive_id)


def encrypt(key: bytes, message: bytes, receive_id: str, *, random: bytes | None = None) -> str:
    """What WeCom sends (for tests and replies): ``random`` is 16 bytes, fresh unless given."""
    prefix = os.urandom(16) if random is None else random
    if len(prefix) != 16:
        raise CryptoError("random prefix must be 16 bytes")
    plain = pad(prefix + struct.pack(">I", len(message)) + message + receive_id.encode())
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
