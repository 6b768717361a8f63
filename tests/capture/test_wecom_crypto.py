"""WeCom's callback cryptography against the vectors of WeCom's published samples, and round trips."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from evenhand.capture import wecom_crypto as wc

# The parameters and messages of WeCom's published callback samples (WXBizMsgCrypt).
TOKEN = "QDG6eK"
CORP_ID = "wx5823bf96d3bd56c7"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
ECHO = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
ECHO_SIGNATURE, ECHO_TIMESTAMP, ECHO_NONCE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780"
POST = ("RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJ"
        "Ts3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2h"
        "gf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4E"
        "hzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2"
        "YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==")
POST_SIGNATURE, POST_TIMESTAMP, POST_NONCE = "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149"
POST_MESSAGE = (b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
                b"<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n"
                b"<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n"
                b"<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>")
KEY = wc.aes_key(ENCODING_AES_KEY)


def _raw_plaintext(ciphertext: str) -> bytes:
    decryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).decryptor()
    return decryptor.update(base64.b64decode(ciphertext)) + decryptor.finalize()


def test_the_samples_signatures() -> None:
    assert wc.signature(TOKEN, ECHO_TIMESTAMP, ECHO_NONCE, ECHO) == ECHO_SIGNATURE
    assert wc.signature(TOKEN, POST_TIMESTAMP, POST_NONCE, POST) == POST_SIGNATURE
    assert wc.signed(TOKEN, POST_TIMESTAMP, POST_NONCE, POST, POST_SIGNATURE.upper())
    assert not wc.signed(TOKEN, POST_TIMESTAMP, POST_NONCE, POST, ECHO_SIGNATURE)
    assert not wc.signed("other", POST_TIMESTAMP, POST_NONCE, POST, POST_SIGNATURE)


def test_the_samples_echostr_decrypts_to_its_plaintext() -> None:
    assert wc.decrypt(KEY, ECHO) == wc.Opened(b"1616140317555161061", CORP_ID)


def test_the_samples_message_has_a_pad_longer_than_an_aes_block() -> None:
    assert 16 < _raw_plaintext(POST)[-1] <= 32  # 30: a 16-byte unpadder would refuse it
    assert wc.decrypt(KEY, POST) == wc.Opened(POST_MESSAGE, CORP_ID)


@pytest.mark.parametrize("ciphertext", [ECHO, POST])
def test_encrypting_with_the_samples_random_prefix_gives_their_ciphertext_byte_for_byte(ciphertext: str) -> None:
    opened = wc.decrypt(KEY, ciphertext)
    prefix = _raw_plaintext(ciphertext)[:16]
    assert wc.encrypt(KEY, opened.message, opened.receive_id, random=prefix) == ciphertext


def test_a_known_ciphertext_of_our_own() -> None:
    expected = wc.encrypt(KEY, "客户来电".encode(), CORP_ID, random=b"0123456789abcdef")
    plain = _raw_plaintext(expected)
    message = "客户来电".encode()
    body = b"0123456789abcdef" + struct.pack(">I", len(message)) + message + CORP_ID.encode()
    pad = 32 - len(body) % 32
    assert plain == body + bytes([pad]) * pad
    assert wc.decrypt(KEY, expected) == wc.Opened(message, CORP_ID)


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 27, 28, 44, 100, 4000])
def test_round_trip_and_every_pad_length(size: int) -> None:
    message = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    ciphertext = wc.encrypt(KEY, message, CORP_ID)
    assert len(base64.b64decode(ciphertext)) % 32 == 0
    assert wc.decrypt(KEY, ciphertext) == wc.Opened(message, CORP_ID)


def test_pad_values_from_17_to_32_are_accepted_and_bad_pads_refused() -> None:
    for n in range(1, 33):
        assert wc.unpad(b"x" * (64 - n) + bytes([n]) * n) == b"x" * (64 - n)
    for bad in (b"x" * 31 + b"\x00", b"x" * 31 + b"\x21", b"x" * 30 + b"\x01\x02", b""):
        with pytest.raises(wc.CryptoError):
            wc.unpad(bad)


@pytest.mark.parametrize("key", ["short", ENCODING_AES_KEY + "AAAA", "!" * 43])
def test_keys_that_are_not_encoding_aes_keys(key: str) -> None:
    with pytest.raises(wc.CryptoError):
        wc.aes_key(key)


@pytest.mark.parametrize("ciphertext", ["not base64!", "AAAA", base64.b64encode(b"x" * 32).decode()])
def test_garbage_does_not_decrypt(ciphertext: str) -> None:
    with pytest.raises(wc.CryptoError):
        wc.decrypt(KEY, ciphertext)


def test_another_key_does_not_open_the_sample() -> None:
    other = wc.aes_key(base64.b64encode(b"k" * 32).decode().rstrip("="))
    with pytest.raises(wc.CryptoError):
        wc.decrypt(other, POST)
