"""Who is asking: the same Principal whether they came with a session cookie or an API token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from evenhand.models.org import Role

READ_ALL = frozenset({Role.ADMIN, Role.OPS, Role.AUDITOR})
# What a token may be minted for, per role of the user it belongs to (never more than the user has).
TOKEN_ROLES: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role),
    Role.OPS: frozenset({Role.OPS, Role.SUPERVISOR, Role.REP, Role.AUDITOR}),
    Role.SUPERVISOR: frozenset({Role.SUPERVISOR, Role.REP}),
    Role.REP: frozenset({Role.REP}),
    Role.AUDITOR: frozenset({Role.AUDITOR}),
}


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: Role
    team_id: int | None = None
    supervised_team_ids: frozenset[int] = field(default_factory=frozenset)
    via: Literal["session", "token", "system"] = "session"
    csrf_token: str | None = None

    @property
    def reads_everything(self) -> bool:
        return self.role in READ_ALL

    @property
    def can_write(self) -> bool:
        return self.role is not Role.AUDITOR

    @property
    def reconciles_activities(self) -> bool:
        """Who reads the list of activities that matched no rep, lead or deal: sales ops, auditors, admin and
        supervisors (what they may change is a writer's rule)."""
        return self.reads_everything or self.role is Role.SUPERVISOR

    @property
    def sees_team_figures(self) -> bool:
        """Colleagues' figures side by side (what-if replays): sales ops, auditors, admin and supervisors."""
        return self.reads_everything or self.role is Role.SUPERVISOR

    @property
    def manages_org(self) -> bool:
        return self.role in (Role.ADMIN, Role.OPS)
