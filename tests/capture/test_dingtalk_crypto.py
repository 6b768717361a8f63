"""DingTalk's callback cryptography against the vector of DingTalk's own sample code, and round trips."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from evenhand.capture import dingtalk_crypto as crypto

# The sample in DingTalk's callback crypto library (open-dingtalk/DingTalk-Callback-Crypto, DingCallbackCrypto3.py):
# a check_url callback, with the timestamp in milliseconds.
TOKEN = "mryue"
AES_KEY = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"
OWNER = "ding6ccabc44d2c8d38b"
TIMESTAMP = "1608001896814"
NONCE = "WL4PK6yA"
SIGNATURE = "03044561471240d4a14bb09372dfcfd4fd0e40cb"
ENCRYPTED = ("0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+HZeKju"
             "4yhELOFchzNukR+t8SB/qk4ROMu3")
RANDOM_PREFIX = b"l7Y3EcX2CU5w8av3"  # what the sample's ciphertext begins with once decrypted

# Produced with this module's encrypt() and checked by an independent decryption below.
SUCCESS_RANDOM = b"0123456789abcdef"
SUCCESS_ENCRYPTED = "IJtyRhe3IwDdDbVy9KT2PQsXn9Di6CEK7IwoL8L4CQ+xgriQ8Y0sMuvHw0Vv9Ce+6cMGlc1MMsHA2a+tCiq9IA=="
SUCCESS_SIGNATURE = "ec77e7d4fff9fdfd84e6cf9e46c4af1fb49245a5"


def test_the_sample_signature_is_sha1_over_the_sorted_strings() -> None:
    assert crypto.signature(TOKEN, TIMESTAMP, NONCE, ENCRYPTED) == SIGNATURE
    crypto.verify(TOKEN, TIMESTAMP, NONCE, ENCRYPTED, SIGNATURE)
    crypto.verify(TOKEN, TIMESTAMP, NONCE, ENCRYPTED, SIGNATURE.upper())


def test_the_sample_decrypts_to_check_url() -> None:
    message = crypto.open_callback(TOKEN, AES_KEY, OWNER, timestamp=TIMESTAMP, nonce=NONCE, encrypted=ENCRYPTED,
                                   given=SIGNATURE)
    assert message == b'{"EventType":"check_url"}'


def test_encrypting_the_sample_again_gives_its_ciphertext_byte_for_byte() -> None:
    again = crypto.encrypt(AES_KEY, OWNER, b'{"EventType":"check_url"}', random=RANDOM_PREFIX)
    assert again == ENCRYPTED


def test_the_success_reply_is_a_known_ciphertext() -> None:
    answer = crypto.reply(TOKEN, AES_KEY, OWNER, timestamp=TIMESTAMP, nonce=NONCE, random=SUCCESS_RANDOM)
    assert answer == {"msg_signature": SUCCESS_SIGNATURE, "timeStamp": TIMESTAMP, "nonce": NONCE,
                      "encrypt": SUCCESS_ENCRYPTED}
    # Decrypted without the module: key and IV, PKCS#7 to 32 bytes, random + length + "success" + owner.
    key = base64.b64decode(AES_KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(SUCCESS_ENCRYPTED)) + decryptor.finalize()
    body = SUCCESS_RANDOM + (7).to_bytes(4, "big") + b"success" + OWNER.encode()
    pad = 32 - len(body) % 32
    assert plain == body + bytes([pad]) * pad
    assert hashlib.sha1("".join(sorted([TOKEN, TIMESTAMP, NONCE, SUCCESS_ENCRYPTED])).encode()).hexdigest() \
        == SUCCESS_SIGNATURE


@pytest.mark.parametrize("message", [b"", b"x", "事件".encode() * 40, b"y" * 12, b"z" * 44])
def test_round_trip(message: bytes) -> None:
    encrypted = crypto.encrypt(AES_KEY, OWNER, message)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert crypto.decrypt(AES_KEY, OWNER, encrypted) == message


def test_a_random_prefix_is_drawn_each_time() -> None:
    assert crypto.encrypt(AES_KEY, OWNER, b"same") != crypto.encrypt(AES_KEY, OWNER, b"same")


def test_another_owner_key_is_refused() -> None:
    with pytest.raises(crypto.CryptoError, match="another app"):
        crypto.decrypt(AES_KEY, "dingother", ENCRYPTED)


def test_a_changed_signature_or_ciphertext_is_refused() -> None:
    with pytest.raises(crypto.CryptoError, match="signature"):
        crypto.verify(TOKEN, TIMESTAMP, NONCE, ENCRYPTED, "0" * 40)
    with pytest.raises(crypto.CryptoError, match="signature"):
        crypto.verify("other", TIMESTAMP, NONCE, ENCRYPTED, SIGNATURE)
    flipped = base64.b64decode(ENCRYPTED)
    flipped = flipped[:-1] + bytes([flipped[-1] ^ 1])
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(AES_KEY, OWNER, base64.b64encode(flipped).decode())


@pytest.mark.parametrize("encrypted", ["not base64!", "", base64.b64encode(b"short").decode()])
def test_garbage_is_refused(encrypted: str) -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(AES_KEY, OWNER, encrypted)


@pytest.mark.parametrize("key", ["short", "!" * 43])
def test_a_malformed_aes_key_is_refused(key: str) -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.aes_key(key)
