"""Normalised contact keys used to spot the same person or company arriving twice."""

from __future__ import annotations

import re
import unicodedata

_COMPANY_SUFFIXES = (
    "股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司",
    "co., ltd.", "co.,ltd.", "co., ltd", "co.,ltd", "co ltd", "limited", "ltd.", "ltd", "inc.", "inc", "llc", "corp.",
    "corp", "gmbh",
)
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def email_key(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.strip().lower()


def phone_key(phone: str | None) -> str | None:
    """Digits only, without the China country code, so '+86 138-0000-0000' equals '13800000000'."""
    digits = re.sub(r"\D", "", phone or "")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if len(digits) >= 6 else None


def company_key(company: str | None) -> str | None:
    """Case-, width- and punctuation-insensitive, without legal-form suffixes (有限公司, Co., Ltd. …)."""
    if not company:
        return None
    text = unicodedata.normalize("NFKC", company).strip().lower()
    for suffix in _COMPANY_SUFFIXES:  # longest forms first; a name that is only a legal form stays whole
        if text.endswith(suffix):
            text = text[: -len(suffix)] if len(text) > len(suffix) else text
            break
    key = _NOT_WORD.sub("", text)
    return key or None
