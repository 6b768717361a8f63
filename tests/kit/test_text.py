"""Which characters free text may hold (``kit.text``), as a pure function."""

from __future__ import annotations

import pytest

from evenhand.errors import Invalid
from evenhand.kit.text import CONTROL, NUL, refusal, refusal_in, require_clean

BIDI = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
        "\u2066", "\u2067", "\u2068", "\u2069"]
CONTROLS = [chr(c) for c in [*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]


@pytest.mark.parametrize("char", [*BIDI, *CONTROLS, "\ud800", "\udfff"])
def test_controls_bidi_marks_and_lone_surrogates_are_refused(char: str) -> None:
    assert refusal(f"ab{char}cd") == CONTROL
    assert refusal(char) == CONTROL


def test_nul_has_its_own_reason() -> None:
    assert refusal("a\x00b") == NUL
    assert refusal("\u202ea\x00") == CONTROL  # the first one found


@pytest.mark.parametrize("text", ["", "plain", "tab\there", "two\nlines\r\n", "华东一组 陈小雨", "😀 👨‍👩‍👧",
                                  "zero\u200bwidth space", "العربية", "עברית", "non\u00a0breaking"])
def test_ordinary_text_passes(text: str) -> None:
    assert refusal(text) is None


def test_text_is_found_wherever_it_hides() -> None:
    assert refusal_in({"a": ["ok", ("fine", "x\u2066")]}) == CONTROL
    assert refusal_in({"key\x00": 1}) == NUL
    assert refusal_in({"a": [1, 2.5, None, True, {"b": "ok"}], "c": {"ok"}}) is None


def test_require_clean_names_the_field() -> None:
    with pytest.raises(Invalid) as caught:
        require_clean(["ok", "rea\u202eson"], field="reason")
    assert (caught.value.field, caught.value.message) == ("reason", CONTROL)
    require_clean("fine", field="reason")
