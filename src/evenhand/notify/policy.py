"""The rules of delivery, without a database: escalation steps per message kind, retry backoff, quiet
hours, rate budgets per target, and which pending messages travel together as one digest."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evenhand.models.notify import Channel

FALLBACK_CHANNELS = (Channel.SMS, Channel.EMAIL, Channel.DINGTALK, Channel.WECOM, Channel.WEBHOOK)
Action = Literal["fallback", "supervisor"]


class EscalationPolicy(BaseModel):
    """Not acknowledged within ``ack_within_minutes``: send again on ``fallback``; still not acknowledged
    ``supervisor_after_minutes`` later: tell the supervisor (and, if ``reassign``, ask routing whether
    the lead should go to someone else). Without a fallback the supervisor step comes at the first deadline."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ack_within_minutes: float = Field(default=15.0, gt=0)
    fallback: Channel | None = Channel.SMS
    supervisor_after_minutes: float | None = Field(default=15.0, gt=0)
    reassign: bool = False

    @field_validator("fallback")
    @classmethod
    def _sendable(cls, value: Channel | None) -> Channel | None:
        if value is not None and value not in FALLBACK_CHANNELS:
            raise ValueError(f"fallback must be one of {', '.join(c.value for c in FALLBACK_CHANNELS)}")
        return value

    def steps(self) -> list[tuple[Action, float]]:
        """Each step's action and its wait in minutes after the previous one (the first after sending)."""
        out: list[tuple[Action, float]] = []
        if self.fallback is not None:
            out.append(("fallback", self.ack_within_minutes))
        if self.supervisor_after_minutes is not None:
            out.append(("supervisor", self.supervisor_after_minutes if out else self.ack_within_minutes))
        return out

    def due_after(self, taken: int, since: datetime) -> datetime | None:
        """When the step after ``taken`` steps falls due, counted from ``since``; None when none is left."""
        steps = self.steps()
        return since + timedelta(minutes=steps[taken][1]) if taken < len(steps) else None


DEFAULT_POLICIES: dict[str, EscalationPolicy] = {
    "lead_assigned": EscalationPolicy(reassign=True),
    "alert": EscalationPolicy(ack_within_minutes=30, supervisor_after_minutes=30),
}


def _merged(kind: str, body: dict[str, Any]) -> EscalationPolicy:
    """A configured kind: its fields laid over the default policy of that kind (or the class defaults)."""
    base = DEFAULT_POLICIES[kind].model_dump() if kind in DEFAULT_POLICIES else {}
    return EscalationPolicy.model_validate({**base, **body})


def check_policies(raw: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Validate configured policies (the app or worker refuses to start on a bad one, naming the kind and
    field)."""
    for kind, body in raw.items():
        try:
            _merged(kind, body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in (kind, *first["loc"]))
            raise ValueError(f"notify_policies.{where}: {first['msg']}") from exc
    return raw


def policies(raw: dict[str, dict[str, Any]]) -> dict[str, EscalationPolicy]:
    """The defaults with the configured kinds laid over them."""
    check_policies(raw)
    return {**DEFAULT_POLICIES, **{kind: _merged(kind, body) for kind, body in raw.items()}}


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from ``base`` up to ``cap``, with jitter between half
    and all of it, so retries after a shared outage do not arrive together."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling * (0.5 + (rng or random).random() / 2)


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(now: datetime, zone: ZoneInfo, start: str | None, end: str | None) -> datetime | None:
    """When a quiet period that contains ``now`` ends (aware), or None outside quiet hours.

    The period runs from ``start`` to ``end`` in the person's zone and may cross midnight (22:00–08:00).
    """
    if not start or not end or start == end:
        return None
    local = now.astimezone(zone)
    begin, finish = _hhmm(start), _hhmm(end)
    today_end = datetime.combine(local.date(), finish, zone)
    if begin < finish:
        inside = begin <= local.time() < finish
        return today_end if inside else None
    if local.time() >= begin:
        return today_end + timedelta(days=1)
    return today_end if local.time() < finish else None


@dataclass(frozen=True)
class Due:
    """A claimed delivery as the grouping rules see it."""

    id: int
    recipient_id: int
    target_key: str
    digest_key: str | None = None


def digest_key(ids: Iterable[int]) -> str:
    """Names a group by its members, so a group re-formed after a crash carries the same key and content."""
    members = ",".join(str(i) for i in sorted(ids))
    return "dg-" + hashlib.sha256(members.encode()).hexdigest()[:24]


def group(rows: Sequence[Due], limited: set[str]) -> list[list[Due]]:
    """Sends for one batch: on a rate-limited target, everything pending for one recipient goes as one
    digest; a group formed before (kept in ``digest_key``) stays together. Elsewhere one row, one send."""
    groups: dict[tuple[Any, ...], list[Due]] = {}
    for row in rows:
        if row.digest_key is not None:
            key: tuple[Any, ...] = ("kept", row.digest_key)
        elif row.target_key in limited:
            key = ("new", row.target_key, row.recipient_id)
        else:
            key = ("one", row.id)
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def within_budget(groups: list[list[Due]], budgets: dict[str, int]) -> tuple[list[list[Due]], list[list[Due]]]:
    """Split groups into those that fit each target's remaining sends this minute and those that wait."""
    left = dict(budgets)
    now, later = [], []
    for g in groups:
        target = g[0].target_key
        if target not in left:
            now.append(g)
        elif left[target] > 0:
            left[target] -= 1
            now.append(g)
        else:
            later.append(g)
    return now, later
