"""A file's people read against the organisation before anything is written: who each row is already, each
person's manager (who may come later in the file, or be known only by name), the teams, departments and regions
the rows name. Every problem is a ``RowError`` naming the row and the field, and its row is left out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.i18n import N_, t
from evenhand.kit.rows import RowError
from evenhand.models import Department, Region, Role, Team, User
from evenhand.org.importer import OrgRow, most_named

R = TypeVar("R", Department, Region)


@dataclass(eq=False)
class Person:
    """One person of the plan: a row of the file, or someone named only as a manager (``implied`` when nobody has
    that name yet; ``listed`` False when they are in evenhand already and are left as they are)."""

    row: int
    data: OrgRow
    user: User | None = None
    listed: bool = True
    implied: bool = False
    manager: Person | None = None
    team: TeamPlan | None = None
    region: Region | str | None = None

    @property
    def name(self) -> str:
        return self.data.display_name or (self.user.display_name if self.user else "")


@dataclass(eq=False)
class TeamPlan:
    name: str
    department: Department | str  # a department there is, or the name of one to create
    team: Team | None = None  # the team as it is; None: to be created
    members: list[Person] = field(default_factory=list)
    supervisor: Person | None = None  # None: leave the supervisor as it is

    def region(self) -> Region | str | None:
        return region_of(self.members)


@dataclass
class Plan:
    people: list[Person]  # rows first, then the managers known only by name
    teams: list[TeamPlan]
    departments: list[str]  # names to create
    regions: list[str]


class Refusal(Exception):
    def __init__(self, field: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.field, self.message, self.params = field, message, params


class Named(Generic[R]):
    """Departments or regions by code or name (any case, codes first); a value naming none is one to create."""

    def __init__(self, rows: Iterable[R]) -> None:
        rows = list(rows)
        self.codes = {r.code.casefold() for r in rows}
        self.found: dict[str, R] = {r.code.casefold(): r for r in rows}
        for r in rows:
            self.found.setdefault(r.name.strip().casefold(), r)
        self.new: dict[str, str] = {}

    def get(self, value: str) -> R | str:
        key = value.strip().casefold()
        return self.found.get(key) or self.new.setdefault(key, value.strip())


@dataclass
class Directory:
    """The people already in evenhand whom a file's rows may name, by each key."""

    external: dict[str, User]
    emails: dict[str, list[User]]
    usernames: dict[str, User]
    names: dict[str, list[User]]

    @classmethod
    def read(cls, session: Session) -> Directory:
        """Everyone: an organisation's people are thousands, and a file may name any of them by any key (a list of
        every key a file holds would pass the number of parameters a statement may carry)."""
        found = cls({}, {}, {}, {})
        for u in session.scalars(select(User).order_by(User.id)):
            if u.external_id:
                found.external[u.external_id] = u
            if u.email:
                found.emails.setdefault(u.email.casefold(), []).append(u)
            found.usernames[u.username.casefold()] = u
            found.names.setdefault(u.display_name, []).append(u)
        return found

    def by_key(self, key: str) -> list[User]:
        """Whom a manager key names: an external id, an e-mail, a username, else a display name."""
        one = self.external.get(key) or self.usernames.get(key.casefold())
        return [one] if one else self.emails.get(key.casefold()) or self.names.get(key, [])


class Planner:
    def __init__(self, session: Session, errors: list[RowError], *, refused: dict[str, int] | None = None) -> None:
        self.errors = errors
        self.refused: set[int] = set()
        # Who the refused rows name (external id, e-mail, username or name, folded) → row: a manager named there is
        # neither someone unknown nor someone new.
        self.refused_keys = dict(refused or {})
        self.departments = Named(session.scalars(select(Department).order_by(Department.id)))
        self.regions = Named(session.scalars(select(Region).order_by(Region.id)))
        self.teams = list(session.scalars(select(Team).order_by(Team.id)))
        self.plans: dict[object, TeamPlan] = {}
        self.session = session

    def refuse(self, row: int, refusal: Refusal, data: OrgRow | None = None) -> None:
        self.errors.append(RowError(row, refusal.field, t(refusal.message, **refusal.params)))
        self.refused.add(row)
        for key in refused_keys(data.model_dump() if data else {}):
            self.refused_keys.setdefault(key, row)

    def _on_a_refused_row(self, value: str) -> None:
        row = self.refused_keys.get(value.strip().casefold())
        if row is not None:
            raise Refusal("manager", N_("The manager {value} is on row {other}, which was refused."), value=value,
                          other=row)

    def plan(self, rows: Sequence[tuple[int, OrgRow]]) -> Plan:
        directory = Directory.read(self.session)
        people = self.people(rows, directory)
        people = self._kept(people + self.managers(people, directory))
        for p in people:
            if p.data.region:
                p.region = self.regions.get(p.data.region)
            if p.data.department:
                self.departments.get(p.data.department)
        self.place(people)
        people = self._kept(people)
        return Plan(people, [plan for plan in self.plans.values() if plan.members], self._new(self.departments, people),
                    [r for r in self.regions.new.values() if any(p.region == r for p in people)])

    def _kept(self, people: list[Person]) -> list[Person]:
        """Those not refused; someone new named only as a manager stays while a row still names them."""
        kept = [p for p in people if not p.implied and p.row not in self.refused]
        return kept + [p for p in people if p.implied and any(k.manager is p for k in kept)]

    # --- who each row is ---------------------------------------------------------------------------

    def people(self, rows: Sequence[tuple[int, OrgRow]], directory: Directory) -> list[Person]:
        seen: dict[tuple[str, str], int] = {}
        claimed: dict[int, int] = {}
        out: list[Person] = []
        for row, data in rows:
            try:
                self._once(row, data, seen)
                user = _match(data, directory)
                if user is not None and user.id in claimed:
                    raise Refusal("row", N_("Row {other} already names {name}."), other=claimed[user.id],
                                  name=user.display_name)
                if user is None and not data.display_name:
                    raise Refusal("display_name", N_("A person new to evenhand needs a display name."))
            except Refusal as refusal:
                self.refuse(row, refusal, data)
                continue
            if user is not None:
                claimed[user.id] = row
            out.append(Person(row, data, user))
        return out

    def _once(self, row: int, data: OrgRow, seen: dict[tuple[str, str], int]) -> None:
        """Two rows telling of the same person are refused (the later one)."""
        keys = data.identifiers() or ([("display_name", data.display_name)] if data.display_name else [])
        if not keys:
            raise Refusal("display_name", N_("The row names nobody: it has no external id, e-mail, username or "
                                             "display name."))
        for key in keys:
            if key in seen:
                raise Refusal(key[0], N_("Row {other} already names this person ({value})."), other=seen[key],
                              value=key[1])
        seen.update(dict.fromkeys(keys, row))

    # --- managers ----------------------------------------------------------------------------------

    def managers(self, people: list[Person], directory: Directory) -> list[Person]:
        """Each row's manager, from the file or evenhand; returns the people named only as managers."""
        rows = _FileIndex(people)
        others: dict[object, Person] = {}
        for p in people:
            try:
                if p.data.manager:
                    p.manager = rows.by_key(p.data.manager) or self._known(directory.by_key(p.data.manager),
                                                                          p.data.manager, rows, others)
                elif p.data.manager_name:
                    p.manager = self._by_name(p, rows, directory, others)
            except Refusal as refusal:
                self.refuse(p.row, refusal)
            if p.manager is p:
                p.manager = None
        return list(others.values())

    def _known(self, users: list[User], value: str, rows: _FileIndex, others: dict[object, Person]) -> Person:
        if len(users) > 1:
            raise Refusal("manager", N_("Several people are called {value}; name the manager by external id, "
                                        "e-mail or username."), value=value)
        if not users:
            self._on_a_refused_row(value)
            raise Refusal("manager", N_("Nobody in the file or in evenhand has the external id, e-mail, username "
                                        "or name {value}."), value=value)
        user = users[0]
        return rows.users.get(user.id) or others.setdefault(user.id, Person(0, OrgRow(), user, listed=False))

    def _by_name(self, p: Person, rows: _FileIndex, directory: Directory, others: dict[object, Person]) -> Person:
        """A manager named by display name: in the file, else in evenhand, else someone new, a supervisor."""
        name = p.data.manager_name or ""
        named = rows.names.get(name, [])
        if len(named) > 1:
            raise Refusal("manager_name", N_("Several rows are called {value}; name the manager by external id, "
                                             "e-mail or username."), value=name)
        if named:
            return named[0]
        if directory.names.get(name):
            return self._known(directory.names[name], name, rows, others)
        self._on_a_refused_row(name)
        return others.setdefault(name.casefold(), Person(p.row, OrgRow(display_name=name, role=Role.SUPERVISOR),
                                                         implied=True))

    # --- teams -------------------------------------------------------------------------------------

    def place(self, people: list[Person]) -> None:
        """Each person's team, then each team's supervisor; a new manager with no team joins the one they lead."""
        for p in people:
            try:
                p.team = self._team_of(p)
            except Refusal as refusal:
                self.refuse(p.row, refusal)
                p.team = None
            if p.team is not None:
                p.team.members.append(p)
        for plan in self.plans.values():
            plan.supervisor = _supervisor(plan)
        for plan in self.plans.values():
            boss = plan.supervisor
            if boss is not None and boss.team is None and boss.listed and not (boss.user and boss.user.team_id):
                boss.team = plan
        for implied in (p for p in people if p.implied):
            implied.region = region_of([m for m in people if m.manager is implied])

    def _team_of(self, p: Person) -> TeamPlan | None:
        if not p.listed:
            return None
        if p.data.team:
            return self.team(p.data.team, p.data.department)
        if p.manager is None:
            return None
        led = [tm for tm in self.teams if p.manager.user is not None and tm.supervisor_id == p.manager.user.id]
        return self._plan_for(led[0]) if led else self.team(p.manager.name, p.data.department)

    def team(self, name: str, department: str | None) -> TeamPlan:
        """The team of that name: in the named department, else the one team of that name, else a new one in the
        default department."""
        if department:
            dept = self.departments.get(department)
            found = [tm for tm in self.teams if isinstance(dept, Department) and tm.department_id == dept.id
                     and tm.name.casefold() == name.casefold()]
            return self._plan_for(found[0]) if found else self._new_team(name, dept)
        same = [tm for tm in self.teams if tm.name.casefold() == name.casefold()]
        if len(same) > 1:
            raise Refusal("team", N_("Teams called {name} are in several departments; add the department."), name=name)
        return self._plan_for(same[0]) if same else self._new_team(name, self._default_department())

    def _plan_for(self, team: Team) -> TeamPlan:
        dept = next(d for d in self.departments.found.values() if d.id == team.department_id)
        return self.plans.setdefault(team.id, TeamPlan(team.name, dept, team))

    def _new_team(self, name: str, dept: Department | str) -> TeamPlan:
        key = (dept.id if isinstance(dept, Department) else dept.casefold(), name.casefold())
        return self.plans.setdefault(key, TeamPlan(name, dept))

    def _default_department(self) -> Department | str:
        """The only department, else the one with code ``sales``, else a new one called Sales."""
        existing = {d.id: d for d in self.departments.found.values()}
        if len(existing) == 1:
            return next(iter(existing.values()))
        return self.departments.get("sales" if "sales" in self.departments.codes else "Sales")

    def _new(self, named: Named[Department], people: list[Person]) -> list[str]:
        used = {p.team.department for p in people if p.team is not None}
        used |= {named.get(p.data.department) for p in people if p.data.department}
        return [name for name in named.new.values() if name in used]


class _FileIndex:
    """The plan's people by the keys a manager field may use."""

    def __init__(self, people: list[Person]) -> None:
        self.keys: dict[str, Person] = {}
        self.names: dict[str, list[Person]] = {}
        self.users = {p.user.id: p for p in people if p.user is not None}
        for p in people:
            for _, value in p.data.identifiers():
                self.keys.setdefault(value, p)
            self.names.setdefault(p.name, []).append(p)

    def by_key(self, key: str) -> Person | None:
        found = self.keys.get(key) or self.keys.get(key.casefold())
        if found is None and len(self.names.get(key, [])) == 1:
            return self.names[key][0]
        if found is None and self.names.get(key):
            raise Refusal("manager", N_("Several rows are called {value}; name the manager by external id, e-mail "
                                        "or username."), value=key)
        return found


def _match(data: OrgRow, directory: Directory) -> User | None:
    """Who the row is already: by external id, else e-mail (any case), else username; a row with none of these,
    by display name when exactly one person has it."""
    if data.external_id and data.external_id in directory.external:
        return directory.external[data.external_id]
    by_email = directory.emails.get((data.email or "").casefold(), [])
    by_username = _one(directory.usernames.get((data.username or "").casefold()))
    for name, value, found in (("email", data.email, by_email), ("username", data.username, by_username)):
        if len(found) > 1:
            raise Refusal(name, N_("Several people have the e-mail {value}; give each an external id."), value=value)
        if found:
            return _same_person(data, found[0], name, value or "")
    if data.identifiers() or not data.display_name:
        return None
    named = directory.names.get(data.display_name, [])
    if len(named) > 1:
        raise Refusal("display_name", N_("Several people are called {name}; give an external id, e-mail or username "
                                         "to tell them apart."), name=data.display_name)
    return named[0] if named else None


def _one(user: User | None) -> list[User]:
    return [user] if user else []


def _same_person(data: OrgRow, user: User, name: str, value: str) -> User:
    if data.external_id and user.external_id and user.external_id != data.external_id:
        raise Refusal(name, N_("{value} belongs to {name}, whose external id is {other}, not {external_id}."),
                      value=value, name=user.display_name, other=user.external_id, external_id=data.external_id)
    return user


def refused_keys(fields: Mapping[str, Any]) -> list[str]:
    """What a row tells its person by, folded: how its reports may name them as their manager."""
    return [value.strip().casefold() for name in ("external_id", "email", "username", "display_name")
            if isinstance(value := fields.get(name), str) and value.strip()]


def region_of(people: Iterable[Person]) -> Region | str | None:
    """The region most of these people name."""
    regions: list[Region | str] = [p.region for p in people if p.region is not None]
    return most_named(regions)


def _supervisor(plan: TeamPlan) -> Person | None:
    """The member whose role is supervisor, when there is exactly one; else the manager most members name."""
    marked = [m for m in plan.members if m.data.role is Role.SUPERVISOR]
    if len(marked) == 1:
        return marked[0]
    return most_named(m.manager for m in plan.members)
