"""Organisation queries; ``readable_teams`` decides which teams a principal sees in full, and
``auth.visibility`` which colleagues' personal details (contact, quota, leave reasons) they read."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import details_visible, leave_reason_visible
from evenhand.models import Department, Region, Team, User


def readable_teams(principal: Principal) -> Select[Team]:
    """Everyone reads everyone's name, but team rosters with presence go to those who manage them."""
    if principal.reads_everything:
        return select(Team)
    own = Team.id == principal.team_id if principal.team_id is not None else false()
    return select(Team).where(or_(Team.id.in_(principal.supervised_team_ids), own))


def rosters(session: Session, principal: Principal) -> list[tuple[Team, str, str | None, User | None, list[User]]]:
    """Each visible team with its department name, region name, supervisor and members."""
    teams = list(session.scalars(readable_teams(principal).order_by(Team.department_id, Team.name)))
    ids = [team.id for team in teams]
    members: dict[int, list[User]] = {i: [] for i in ids}
    for user in session.scalars(select(User).where(User.team_id.in_(ids)).order_by(User.display_name)):
        members[user.team_id or 0].append(user)
    depts = {i: n for i, n in session.execute(select(Department.id, Department.name))}
    regions = {i: n for i, n in session.execute(select(Region.id, Region.name))}
    sups = {u.id: u for u in session.scalars(select(User).where(User.id.in_([t.supervisor_id for t in teams])))}
    return [(t, depts.get(t.department_id, ""), regions.get(t.region_id) if t.region_id else None,
             sups.get(t.supervisor_id or 0), members[t.id]) for t in teams]


def details_shown(session: Session, principal: Principal, user_ids: Collection[int]) -> set[int]:
    """Those of ``user_ids`` whose e-mail, phone and quota the principal may read."""
    if not user_ids:
        return set()
    return set(session.scalars(select(User.id).where(User.id.in_(list(user_ids)), details_visible(principal))))


def leave_reason_shown(session: Session, principal: Principal, user_id: int) -> bool:
    """Whether the principal may read why this user is on leave."""
    stmt = select(User.id).where(User.id == user_id, leave_reason_visible(principal, User.id))
    return session.scalar(stmt) is not None
