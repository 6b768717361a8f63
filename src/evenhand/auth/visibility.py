"""The rules for what a principal may read of other people; repositories and services use them, nothing else.

Records (``owned_by_visible``): a rep reads their own; a supervisor reads the members of the teams they
supervise, and their own; admin, ops and auditors read everything.

Personal details of colleagues:

- a leave's reason (a sick note, say) goes to the person, the supervisor of their team, ops and admin —
  not to auditors, and not to colleagues, who see that someone is away and when;
- e-mail, phone and monthly quota go to staff (admin, ops, auditor) and, for everyone else, only within
  their own circle: the person themself, the people of their own team and of the teams they supervise,
  and those teams' supervisors. A rep (or the supervisor of another team) sees names, roles and presence
  of everyone else, but not how to reach them or what they must sell.

Routing decisions and the fairness report:

- a routing decision is open to whoever reads its lead and to every rep considered for it ("why not
  me"); staff, supervisors and the rep it chose see every candidate's verdict and the pool's state
  (``every_candidate_visible``), other reps only their own verdict — not colleagues' presence or leave;
- a team's monthly report shows its counts to the whole team, but its appeals only to staff and the
  team's supervisors (``team_appeals_visible``); anyone else sees only the appeals they filed.

Scorecards: staff read every card, a supervisor the cards of their teams, a rep their own in full; a rep (or a
supervisor) also sees where each colleague of their own team stands in its ranking — total and tier, never the
metrics behind them (``scorecards_visible``, ``scorecard_in_full``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from evenhand.auth.principal import Principal
from evenhand.models import Team, User

OwnerColumn = ColumnElement[Any] | InstrumentedAttribute[Any]
PERSONAL_FIELDS = ("email", "phone", "monthly_quota")  # what ``details_visible`` guards


def owned_by_visible(principal: Principal, owner_column: OwnerColumn) -> ColumnElement[bool]:
    if principal.reads_everything:
        return true()
    return _self_or_supervised(principal, owner_column)


def leave_reason_visible(principal: Principal, person_column: OwnerColumn) -> ColumnElement[bool]:
    """Whether the principal reads why the person in ``person_column`` is on leave."""
    if principal.manages_org:
        return true()
    return _self_or_supervised(principal, person_column)


def details_visible(principal: Principal) -> ColumnElement[bool]:
    """Whether the principal reads the ``PERSONAL_FIELDS`` of the ``users`` row in the statement."""
    if principal.reads_everything:
        return true()
    teams = set(principal.supervised_team_ids) | ({principal.team_id} if principal.team_id is not None else set())
    if not teams:
        return or_(User.id == principal.user_id, false())
    supervisors = select(Team.supervisor_id).where(Team.id.in_(teams), Team.supervisor_id.is_not(None))
    return or_(User.id == principal.user_id, User.team_id.in_(teams), User.id.in_(supervisors))


def every_candidate_visible(principal: Principal, *, chosen_rep_id: int | None) -> bool:
    """Whether the principal reads every candidate of a routing decision that chose ``chosen_rep_id``."""
    return principal.reads_everything or bool(principal.supervised_team_ids) or principal.user_id == chosen_rep_id


def team_appeals_visible(principal: Principal, team_id: int) -> bool:
    """Whether the principal reads every appeal in the report of team ``team_id``, not only their own."""
    return principal.reads_everything or team_id in principal.supervised_team_ids


def scorecards_visible(principal: Principal, person_column: OwnerColumn, team_column: OwnerColumn
                       ) -> ColumnElement[bool]:
    """Whose scorecards the principal reads at all: the records they read, and their own team's ranking."""
    if principal.reads_everything or principal.team_id is None:
        return owned_by_visible(principal, person_column)
    return or_(owned_by_visible(principal, person_column), team_column == principal.team_id)


def scorecard_in_full(principal: Principal, user_id: int, team_id: int | None) -> bool:
    """Whether the principal reads a card's metrics and inputs, not only its total and tier: staff, the rep
    themself and the supervisor of the team the card was scored in."""
    return principal.reads_everything or user_id == principal.user_id or team_id in principal.supervised_team_ids


def _self_or_supervised(principal: Principal, person_column: OwnerColumn) -> ColumnElement[bool]:
    if principal.supervised_team_ids:
        members = select(User.id).where(User.team_id.in_(principal.supervised_team_ids))
        return or_(person_column == principal.user_id, person_column.in_(members))
    return person_column == principal.user_id
