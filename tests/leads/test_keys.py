"""Normalised contact keys decide what counts as the same person or company."""

from __future__ import annotations

import pytest

from evenhand.leads.keys import company_key, email_key, phone_key


@pytest.mark.parametrize(("a", "b"), [
    ("13800000001", "+86 138-0000-0001"), ("13800000001", "0086 138 0000 0001"), ("021-6888 1234", "02168881234"),
])
def test_the_same_phone_written_differently_has_one_key(a: str, b: str) -> None:
    assert phone_key(a) == phone_key(b) is not None


@pytest.mark.parametrize(("a", "b"), [
    ("华东制造有限公司", "华东制造 有限公司"), ("华东制造有限公司", "华东制造股份有限公司"), ("ACME Co., Ltd.", "acme"),
    ("ＡＣＭＥ　Inc.", "Acme Inc"),
])
def test_company_keys_ignore_case_width_spacing_and_legal_form(a: str, b: str) -> None:
    assert company_key(a) == company_key(b) is not None


def test_different_companies_and_junk_stay_apart() -> None:
    assert company_key("华东制造") != company_key("华南制造")
    assert company_key("有限公司") == "有限公司"  # a bare legal form is not stripped to nothing
    assert phone_key("12") is None
    assert email_key("not-an-email") is None
    assert email_key(" Li.Lei@Example.CN ") == "li.lei@example.cn"
