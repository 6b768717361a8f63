"""Password hashing and token digests (no database)."""

from __future__ import annotations

import hashlib

from evenhand.auth.passwords import digest, hash_password, new_token, verify_password


def test_hashes_are_salted_argon2id() -> None:
    first, second = hash_password("秘密 password"), hash_password("秘密 password")
    assert first.startswith("$argon2id$") and second.startswith("$argon2id$")
    assert first != second
    assert "秘密" not in first


def test_verify_accepts_only_the_right_password() -> None:
    stored = hash_password("correct horse")
    assert verify_password(stored, "correct horse") is True
    assert verify_password(stored, "correct horse ") is False
    assert verify_password(stored, "Correct horse") is False
    assert verify_password(stored, "") is False


def test_verify_never_accepts_a_missing_or_broken_hash() -> None:
    assert verify_password(None, "") is False
    assert verify_password(None, "anything") is False
    assert verify_password("not a hash", "not a hash") is False
    assert verify_password("", "") is False


def test_tokens_are_prefixed_random_and_stored_as_sha256() -> None:
    tokens = {new_token("eht") for _ in range(50)}
    assert len(tokens) == 50
    assert all(t.startswith("eht_") and len(t) > 40 for t in tokens)
    token = next(iter(tokens))
    assert digest(token) == hashlib.sha256(token.encode()).hexdigest()
