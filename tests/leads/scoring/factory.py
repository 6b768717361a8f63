"""Small models and leads for the scoring tests; fixed values, no randomness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from evenhand.leads.scoring import compile, parse
from evenhand.leads.scoring.compiled import CompiledModel
from evenhand.leads.scoring.rules import Event

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def model_text(groups: dict[str, Any], **top: Any) -> str:
    return yaml.safe_dump({"name": "test", **top, "groups": groups}, allow_unicode=True, sort_keys=False)


def compiled(groups: dict[str, Any], **top: Any) -> CompiledModel:
    return compile(parse(model_text(groups, **top)))


def one_group(*rules: dict[str, Any], **group: Any) -> CompiledModel:
    return compiled({"g": {**group, "rules": list(rules)}})


def ago(days: float = 0, *, kind: str = "whitepaper_download", dwell: float | None = None) -> Event:
    return Event(kind, NOW - timedelta(days=days), dwell)
