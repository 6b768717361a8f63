"""Every user-visible string in src/ has a zh-CN translation, and the catalogues have no strays."""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path

import evenhand
from evenhand.i18n import normalise, t

SRC = Path(evenhand.__file__).parent
# Calls whose first argument is a user-visible message: the translators, the marker, domain errors.
MESSAGE_CALLS = {"t", "tr", "N_", "DomainError", "NotFound", "Conflict", "Forbidden", "Unauthorized", "Invalid",
                 "TooManyRequests"}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node.func) in MESSAGE_CALLS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found[first.value] = f"{path.relative_to(SRC)}:{node.lineno}"
    return found


def catalogue(locale: str) -> dict[str, str]:
    return json.loads((SRC / "locales" / f"{locale}.json").read_text(encoding="utf-8"))


def test_every_message_has_a_chinese_translation() -> None:
    zh = catalogue("zh-CN")
    missing = {m: where for m, where in messages().items() if m not in zh}
    assert not missing, f"untranslated: {missing}"


def test_catalogue_has_no_stale_entries() -> None:
    stale = set(catalogue("zh-CN")) - set(messages())
    assert not stale, f"translations for strings no longer in the code: {sorted(stale)}"


def test_translations_keep_their_placeholders() -> None:
    fields = string.Formatter()
    for source, target in catalogue("zh-CN").items():
        wanted = {f for _, f, _, _ in fields.parse(source) if f}
        got = {f for _, f, _, _ in fields.parse(target) if f}
        assert wanted == got, f"{source!r} → {target!r}"


def test_lookup_and_fallback() -> None:
    assert t("Leads", locale="zh-CN") == "线索"
    assert t("Leads", locale="en") == "Leads"
    assert t("a string nobody translated", locale="zh-CN") == "a string nobody translated"
    assert t("{online} of {total} online", locale="zh-CN", online=3, total=9).startswith("9")


def test_locale_negotiation() -> None:
    assert normalise("zh") == "zh-CN"
    assert normalise("zh_CN") == "zh-CN"
    assert normalise("en-US,en;q=0.9") == "en"
    assert normalise("fr-FR") is None
    assert normalise(None) is None
