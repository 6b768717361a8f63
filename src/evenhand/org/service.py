"""Organisation services: reference data, teams, users, presence and leave. Callers commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, insert, select
from sqlalchemy import delete as delete_rows
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evenhand.auth.passwords import hash_password
from evenhand.auth.principal import Principal
from evenhand.auth.visibility import PERSONAL_FIELDS
from evenhand.config import get_settings
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.kit import audit
from evenhand.kit.clock import utcnow
from evenhand.models import Department, Leave, Presence, ProductLine, Region, Role, Team, User, UserGrant
from evenhand.models.base import Base
from evenhand.models.org import user_product_lines
from evenhand.org import repository, usernames
from evenhand.org.importer import code_for
from evenhand.org.schemas import GrantCreate, LeaveCreate, LeaveRead, RefCreate, UserCreate, UserRead, UserUpdate

M = TypeVar("M", bound=Base)
REFERENCES: dict[str, type[Base]] = {"department": Department, "region": Region, "product_line": ProductLine}
_REQUIRED_USER_FIELDS = frozenset({"display_name", "role", "level", "monthly_quota", "max_open_leads",
                                   "daily_lead_cap", "skills", "timezone", "working_hours", "active"})
_FOREIGN = {"department_id": Department, "region_id": Region, "team_id": Team, "supervisor_id": User}


def get(session: Session, model: type[M], obj_id: int, *, field: str = "id") -> M:
    obj = session.get(model, obj_id)
    if obj is None:
        raise NotFound("No {kind} with id {id}.", field=field, kind=model.__tablename__.rstrip("s"), id=obj_id)
    return obj


def _check_refs(session: Session, values: dict[str, Any]) -> None:
    for name, model in _FOREIGN.items():
        if values.get(name) is not None and session.get(model, values[name]) is None:
            raise Invalid("{name} {id} does not exist.", field=name, name=name, id=values[name])


def _flush(session: Session, obj: Base, what: str) -> None:
    """Flush, turning a unique-constraint clash into a 409 that names the clashing field."""
    try:
        with session.begin_nested():
            session.add(obj)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("That {what} clashes with an existing one.", field=_clash(exc), what=what) from exc


def _clash(exc: IntegrityError) -> str | None:
    text = str(exc.orig)
    for name in ("external_id", "username", "code", "name", "email"):
        if name in text:
            return name
    return None


def _record(session: Session, actor: Principal | None, action: str, obj: Base, data: dict[str, Any]) -> None:
    audit.append(session, action=action, subject_type=obj.__tablename__, subject_id=getattr(obj, "id", None),
                 payload=data, actor_id=actor.user_id if actor else None)


def create(session: Session, model: type[M], data: BaseModel, *, actor: Principal | None) -> M:
    values = data.model_dump()
    _check_refs(session, values)
    obj = model(**values)
    _flush(session, obj, model.__tablename__.rstrip("s"))
    _record(session, actor, f"{model.__tablename__}.create", obj, values)
    return obj


def update(session: Session, model: type[M], obj_id: int, data: BaseModel, *, actor: Principal | None) -> M:
    obj = get(session, model, obj_id)
    values = data.model_dump(exclude_unset=True)
    required = [c.name for c in model.__table__.columns if not c.nullable]
    empty = [k for k, v in values.items() if v is None and k in required]
    if empty:
        raise Invalid("{name} cannot be empty.", field=empty[0], name=empty[0])
    _check_refs(session, values)
    for key, value in values.items():
        setattr(obj, key, value)
    _flush(session, obj, model.__tablename__.rstrip("s"))
    _record(session, actor, f"{model.__tablename__}.update", obj, values)
    return obj


def delete(session: Session, model: type[M], obj_id: int, *, actor: Principal | None) -> None:
    obj = get(session, model, obj_id)
    try:
        with session.begin_nested():
            session.delete(obj)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("It is still in use; move what refers to it first.", field="id") from exc
    _record(session, actor, f"{model.__tablename__}.delete", obj, {"id": obj_id})


def create_reference(session: Session, model: type[Department] | type[Region], *, name: str, code: str | None,
                     actor: Principal | None) -> Department | Region:
    """A department or region; without a code, one is made from the name (华东 → huadong), numbered when taken."""
    if not code:
        code = code_for(name.strip(), {c.lower() for c in session.scalars(select(model.code))})
    return create(session, model, RefCreate(code=code, name=name), actor=actor)


def listing(model: type[M]) -> Select[M]:
    return select(model).order_by(model.__table__.c.id)


def create_user(session: Session, data: UserCreate, *, actor: Principal | None) -> User:
    """Usernames are unique regardless of case, because signing in ignores case."""
    values = data.model_dump(exclude_none=True, exclude={"password"})
    taken = session.scalar(select(User.id).where(func.lower(User.username) == data.username.lower()))
    if taken is not None:
        raise Conflict("That {what} clashes with an existing one.", field="username", what="user")
    _check_external_id(session, data.external_id, user_id=None)
    _check_refs(session, values)
    user = User(**values, password_hash=hash_password(data.password) if data.password else None)
    _flush(session, user, "user")
    _record(session, actor, "users.create", user, {**values, "password_set": bool(data.password)})
    return user


def by_external_id(session: Session, external_id: str) -> User:
    user = session.scalar(select(User).where(User.external_id == external_id))
    if user is None:
        raise NotFound("Nobody has the external id {value}.", field="external_id", value=external_id)
    return user


def username_for(session: Session, display_name: str, email: str | None = None) -> str | None:
    """The username a person's name gives (``usernames.derive``: 张伟 → zhang.wei), numbered past those taken."""
    base = usernames.derive(display_name, email)
    if base is None:
        return None
    taken: set[str] = set(session.scalars(select(func.lower(User.username)).where(
        func.lower(User.username).startswith(base.lower(), autoescape=True))))
    return usernames.unique(base, taken)


def update_user(session: Session, user_id: int, data: UserUpdate, *, actor: Principal | None) -> User:
    user = get(session, User, user_id)
    values = data.model_dump(exclude_unset=True, exclude={"password"})
    empty = [k for k, v in values.items() if v is None and k in _REQUIRED_USER_FIELDS]
    if empty:
        raise Invalid("{name} cannot be empty.", field=empty[0], name=empty[0])
    _check_refs(session, values)
    _check_external_id(session, values.get("external_id"), user_id=user_id)
    if values.get("active") is False:
        _keep_an_admin(session, user_id, actor=actor, field="active")
    if "role" in values and values["role"] is not user.role:
        _keep_an_admin(session, user_id, actor=actor, field="role")
    if "active" in values and values["active"] is not user.active:
        values = _leaving_or_back(user, values)
    for key, value in values.items():
        setattr(user, key, value)
    if data.password:
        user.password_hash = hash_password(data.password)
    _record(session, actor, "users.update", user, {**values, "password_set": bool(data.password)})
    return user


def deactivate_user(session: Session, user_id: int, *, actor: Principal | None) -> User:
    """Users are never deleted (their history stays attributable); they leave."""
    user = get(session, User, user_id)
    _keep_an_admin(session, user_id, actor=actor, field="id")
    user.active, user.presence, user.presence_since = False, Presence.OFFLINE, utcnow()
    user.left_on = _today()
    _record(session, actor, "users.deactivate", user, {"id": user_id})
    return user


def _leaving_or_back(user: User, values: dict[str, Any]) -> dict[str, Any]:
    """Someone who leaves goes offline and has a last day (today, unless given); someone who comes back has none."""
    if values["active"]:
        return {**values, "left_on": values.get("left_on")}
    user.presence, user.presence_since = Presence.OFFLINE, utcnow()
    return {**values, "left_on": values.get("left_on") or _today()}


def _today() -> date:
    return utcnow().astimezone(get_settings().zone).date()  # the organisation's day, not the server's


def _check_external_id(session: Session, external_id: str | None, *, user_id: int | None) -> None:
    if external_id is None:
        return
    holder = session.scalar(select(User.id).where(User.external_id == external_id))
    if holder is not None and holder != user_id:
        raise Conflict("External id {value} is already someone else's.", field="external_id", value=external_id)


def _keep_an_admin(session: Session, user_id: int, *, actor: Principal | None, field: str) -> None:
    """Before a user is deactivated or their role changes: nobody does that to themselves, and the last
    active admin stays one. The active admins are read under the audit chain's lock and then locked
    themselves, so two admins removing each other at once on PostgreSQL are taken one after the other and
    the second sees the first's change (SQLite's writer holds the whole database already)."""
    if actor is not None and actor.user_id == user_id:
        if field == "role":
            raise Forbidden("You cannot change your own role; ask another admin.", field=field)
        raise Forbidden("You cannot deactivate your own account; ask another admin.", field=field)
    audit.lock(session)
    admins = list(session.scalars(select(User.id).where(User.role == Role.ADMIN, User.active.is_(True))
                                  .order_by(User.id).with_for_update()))
    if admins == [user_id]:
        raise Conflict("The last active admin cannot be deactivated or lose the admin role; make another "
                       "user admin first.", field=field)


def may_act_for(session: Session, actor: Principal, user: User) -> bool:
    if actor.manages_org or actor.user_id == user.id:
        return True
    return actor.role is Role.SUPERVISOR and user.team_id in actor.supervised_team_ids


def set_presence(session: Session, user_id: int, presence: Presence, *, actor: Principal) -> User:
    user = get(session, User, user_id)
    if not may_act_for(session, actor, user):
        raise Forbidden("You may change only your own presence or your team's.")
    if user.presence is not presence:
        before = user.presence
        user.presence, user.presence_since = presence, utcnow()
        _record(session, actor, "presence.change", user, {"from": before.value, "to": presence.value})
    return user


def add_leave(session: Session, user_id: int, data: LeaveCreate, *, actor: Principal) -> Leave:
    user = get(session, User, user_id)
    if not may_act_for(session, actor, user):
        raise Forbidden("You may record leave only for yourself or your team.")
    if data.ends_on < data.starts_on:
        raise Invalid("The leave ends before it starts.", field="ends_on")
    leave = Leave(user_id=user_id, **data.model_dump())
    session.add(leave)
    session.flush()
    _record(session, actor, "leaves.create", leave, data.model_dump(mode="json"))
    return leave


def cancel_leave(session: Session, user_id: int, leave_id: int, *, actor: Principal) -> None:
    """Leave recorded by mistake, or called off: whoever may record it may remove it (audited)."""
    user = get(session, User, user_id)
    if not may_act_for(session, actor, user):
        raise Forbidden("You may record leave only for yourself or your team.")
    leave = session.get(Leave, leave_id)
    if leave is None or leave.user_id != user_id:
        raise NotFound("No leave {id} for this user.", field="leave_id", id=leave_id)
    _record(session, actor, "leaves.delete", leave, {"starts_on": leave.starts_on.isoformat(),
                                                     "ends_on": leave.ends_on.isoformat(), "reason": leave.reason})
    session.delete(leave)
    session.flush()


def leaves(session: Session, user_id: int, *, viewer: Principal) -> list[LeaveRead]:
    """The user's leave as ``viewer`` may read it: the dates for everyone, the reason only for whom
    ``auth.visibility.leave_reason_visible`` allows."""
    get(session, User, user_id)
    rows = session.scalars(select(Leave).where(Leave.user_id == user_id).order_by(Leave.starts_on))
    shown = repository.leave_reason_shown(session, viewer, user_id)
    return [LeaveRead.model_validate(row).model_copy(update={} if shown else {"reason": None}) for row in rows]


def people(session: Session, users: Sequence[User], *, viewer: Principal) -> list[UserRead]:
    """The users as ``viewer`` may read them: the e-mail, phone and quota of people outside the viewer's
    circle (``auth.visibility.details_visible``) are null."""
    shown = repository.details_shown(session, viewer, [user.id for user in users])
    hidden = dict.fromkeys(PERSONAL_FIELDS)
    return [UserRead.model_validate(u).model_copy(update={} if u.id in shown else hidden) for u in users]


def person(session: Session, user_id: int, *, viewer: Principal) -> UserRead:
    return people(session, [get(session, User, user_id)], viewer=viewer)[0]


def product_lines(session: Session, user_id: int) -> list[str]:
    """The codes of the product lines the user sells (pools may admit by them, leads may be matched on them)."""
    get(session, User, user_id)
    return list(session.scalars(select(ProductLine.code).join(
        user_product_lines, user_product_lines.c.product_line_id == ProductLine.id)
        .where(user_product_lines.c.user_id == user_id).order_by(ProductLine.code)))


def set_product_lines(session: Session, user_id: int, codes: list[str], *, actor: Principal | None) -> list[str]:
    """Replace the user's product lines; an unknown code is refused by name and nothing changes."""
    get(session, User, user_id)
    found = dict(session.execute(select(ProductLine.code, ProductLine.id).where(ProductLine.code.in_(codes))).all())
    unknown = [code for code in codes if code not in found]
    if unknown:
        raise Invalid("No product line {code}.", field="product_lines", code=unknown[0])
    before = product_lines(session, user_id)
    wanted = sorted(set(codes))
    if wanted != before:
        session.execute(delete_rows(user_product_lines).where(user_product_lines.c.user_id == user_id))
        if wanted:
            session.execute(insert(user_product_lines), [{"user_id": user_id, "product_line_id": found[c]}
                                                         for c in wanted])
        audit.append(session, action="users.product_lines", subject_type="users", subject_id=user_id,
                     payload={"from": before, "to": wanted}, actor_id=actor.user_id if actor else None)
    return wanted


def team_names(session: Session) -> dict[int, str]:
    """Every team by id, by name: what a form offers to choose from."""
    return dict(session.execute(select(Team.id, Team.name).order_by(Team.name)).tuples().all())


def names_by_id(session: Session, model: type[Department] | type[Region]) -> dict[int, str]:
    """Every department or region by id, by name: what a form offers to choose from."""
    return dict(session.execute(select(model.id, model.name).order_by(model.name)).tuples().all())


def supervisor_names(session: Session) -> dict[int, str]:
    """The active supervisors by id, by name: who may lead a team."""
    return dict(session.execute(select(User.id, User.display_name).where(
        User.role == Role.SUPERVISOR, User.active.is_(True)).order_by(User.display_name)).tuples().all())


_REGION_NAMES = select(Region.code, Region.name).order_by(Region.code)  # read on every intake: built once


def region_names(session: Session) -> dict[str, str]:
    """Every region by code, by name, in code order."""
    return dict(session.execute(_REGION_NAMES).tuples().all())


def display_names(session: Session, user_ids: Collection[int]) -> dict[int, str]:
    """Names are shown to everyone (contact details are not: ``people``)."""
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(set(user_ids)))).tuples().all())


def carrier_names(session: Session) -> dict[int, str]:
    """The active reps and supervisors (who carry leads) by id, by name, in name order: whom a lead may be given to."""
    return dict(session.execute(select(User.id, User.display_name).where(
        User.role.in_((Role.REP, Role.SUPERVISOR)), User.active.is_(True)).order_by(User.display_name)).tuples().all())


def team_members(session: Session, team_id: int, *, viewer: Principal) -> list[UserRead]:
    get(session, Team, team_id)
    members = session.scalars(select(User).where(User.team_id == team_id).order_by(User.display_name))
    return people(session, list(members), viewer=viewer)


def grants(session: Session, user_id: int) -> list[UserGrant]:
    get(session, User, user_id)
    return list(session.scalars(select(UserGrant).where(UserGrant.user_id == user_id).order_by(UserGrant.grant)))


def holders(session: Session, name: str) -> set[int]:
    """Users holding an unexpired grant of that name."""
    return set(session.scalars(select(UserGrant.user_id).where(
        UserGrant.grant == name, (UserGrant.expires_at.is_(None)) | (UserGrant.expires_at > utcnow()))))


def holds_grant(session: Session, user_id: int, name: str) -> bool:
    return session.scalar(select(UserGrant.id).where(UserGrant.user_id == user_id, UserGrant.grant == name)) is not None


def grant(session: Session, user_id: int, data: GrantCreate, *, actor: Principal | None) -> UserGrant:
    """Give a rep a right (e.g. ``key_account``), or renew it with a new expiry and reason. Routing reads
    grants at each decision, so the change counts from the next lead."""
    user = get(session, User, user_id)
    if user.role not in (Role.REP, Role.SUPERVISOR):
        raise Invalid("Only reps and supervisors carry leads; {name} is {role}.", field="user_id",
                      name=user.display_name, role=user.role.value)
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise Invalid("The grant would expire before it starts.", field="expires_at")
    row = session.scalar(select(UserGrant).where(UserGrant.user_id == user_id, UserGrant.grant == data.grant))
    if row is None:
        row = UserGrant(user_id=user_id, grant=data.grant)
        session.add(row)
    row.expires_at, row.reason = data.expires_at, data.reason
    row.granted_by_id = actor.user_id if actor else None
    session.flush()
    _record(session, actor, "user_grants.grant", row, {"user_id": user_id, **data.model_dump(mode="json")})
    return row


def revoke(session: Session, user_id: int, name: str, *, actor: Principal | None) -> None:
    row = session.scalar(select(UserGrant).where(UserGrant.user_id == user_id, UserGrant.grant == name))
    if row is None:
        raise NotFound("User {id} holds no grant {grant}.", field="grant", id=user_id, grant=name)
    _record(session, actor, "user_grants.revoke", row, {"user_id": user_id, "grant": name})
    session.delete(row)
    session.flush()


def people_by_key(session: Session, keys: Collection[str]) -> dict[str, int]:
    """Users named in an export, each by external id, e-mail (any case) or username: the key as given → user id.
    A key naming nobody is left out; the caller names it in its error."""
    wanted = {k.strip() for k in keys if k and k.strip()}
    if not wanted:
        return {}
    folded: dict[str, list[str]] = {}
    for key in wanted:
        folded.setdefault(key.casefold(), []).append(key)
    found: dict[str, int] = {}
    rows = session.execute(select(User.id, User.external_id, User.email, User.username).where(
        User.external_id.in_(wanted) | func.lower(User.email).in_(list(folded)) | User.username.in_(wanted))).tuples()
    for user_id, external_id, email, username in rows:
        for exact in (external_id, username):
            if exact in wanted:
                found.setdefault(exact, user_id)
        for key in folded.get(email.casefold(), []) if email else []:
            found.setdefault(key, user_id)
    return found
