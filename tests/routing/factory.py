"""Builders for routing tests: fixed defaults, everything overridable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from evenhand.routing import CompiledPolicy, LeadSnapshot, PoolState, RepState, compile, parse

# A Monday, 10:00 in Shanghai.
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
OFFICE = {d: (("09:00", "18:00"),) for d in ("mon", "tue", "wed", "thu", "fri")}


def rep(rep_id: int, **overrides: Any) -> RepState:
    """Online, no schedule (always inside hours), in the smb east team, room under every cap."""
    base: dict[str, Any] = {"username": f"rep{rep_id}", "team": "中小企业部华东组", "department": "smb",
                            "region": "east", "presence": "online", "presence_since": NOW, "level": "senior"}
    return RepState(rep_id, **(base | overrides))


def lead(lead_id: int = 1, score: int = 50, **overrides: Any) -> LeadSnapshot:
    return LeadSnapshot(lead_id, score, **({"region": "east", "industry": "制造业", "source": "website"} | overrides))


def policy_text(pools: list[dict[str, Any]] | None = None, **top: Any) -> str:
    doc = {"name": "测试策略", **top, "pools": pools if pools is not None else [{"id": "all"}]}
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def policy(pools: list[dict[str, Any]] | None = None, **top: Any) -> CompiledPolicy:
    return compile(parse(policy_text(pools, **top)))


def state(pool_id: str = "all") -> PoolState:
    return PoolState(pool_id)
