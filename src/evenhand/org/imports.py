"""Taking the organisation in: a company's file (``evenhand import org``) or one person from its HR system
(``PUT /api/v1/users/by-external-id/{id}``), by the same plan and the same writes (``org.importer`` lists the
fields and the rules).

Everything happens in the caller's transaction. A file is read whole before anything is written, because a
manager may come after their reports: an organisation's people are thousands, not millions. Every department,
region, team and person created or changed leaves its audit entry (through ``org.service``), and a file leaves one
more with its counts. Running the same file again changes nothing. People the file leaves out stay as they are,
unless ``deactivate_missing``: then everyone else but admins (and the person importing) is deactivated, each
audited, and only when every row of the file was taken, so that a rejected row never deactivates its person.
Imported people have no password: they sign in once an admin sets one, or with a token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import DomainError, Invalid, describe
from evenhand.i18n import N_, t
from evenhand.kit import audit
from evenhand.kit.rows import Progress, Rejects, RowError, Validate, chunks, reject
from evenhand.kit.tables import FIRST_DATA_ROW, open_table
from evenhand.models import Department, Region, Role, Team, User
from evenhand.org import service, usernames
from evenhand.org.importer import KIND, USER_FIELDS, OrgRow, PersonFields
from evenhand.org.planning import Person, Plan, Planner, TeamPlan, refused_keys
from evenhand.org.schemas import TeamCreate, TeamUpdate, UserCreate, UserUpdate

NO_USERNAME = N_("No username can be made from this name; add a username column.")


@dataclass
class OrgReport:
    rows: int = 0
    departments: int = 0  # created
    regions: int = 0  # created
    teams_created: int = 0
    teams_updated: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    rejected: int = 0  # rows
    missing_kept: bool = False  # deactivate_missing was asked for, but rows were rejected: nobody was deactivated
    users: dict[int, User] = field(default_factory=dict)  # row → the person it names
    outcome: dict[int, str] = field(default_factory=dict)  # row → created, updated, unchanged or deactivated

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int) and not isinstance(v, bool)}

    def changed(self) -> bool:
        return any((self.departments, self.regions, self.teams_created, self.teams_updated, self.created,
                    self.updated, self.deactivated))


def import_org(session: Session, path: Path, mapping_text: str, *, actor: Principal | None, skip_invalid: bool,
               rejects: Rejects | None = None, deactivate_missing: bool = False,
               progress: Progress | None = None) -> OrgReport:
    """The file's people, teams, departments and regions, created or updated; all or nothing unless
    ``skip_invalid`` (then the refused rows, as they were in the file, are in ``rejects``)."""
    rejects = rejects if rejects is not None else Rejects(header=[])
    refused: dict[str, int] = {}
    rows = [pair for chunk in chunks(path, mapping_text, KIND, zone=get_settings().zone, rejects=rejects,
                                     validate=_noting(refused), progress=progress) for pair in chunk]
    report = sync(session, rows, actor=actor, errors=rejects.errors, all_or_nothing=not skip_invalid,
                  deactivate_missing=deactivate_missing, progress=progress, refused=refused)
    report.rows = rejects.read
    if rejects.errors and not skip_invalid:
        raise reject(sorted(rejects.errors, key=lambda e: e.row))
    _original_rows(path, rejects)
    if report.changed():
        audit.append(session, action="org.import", subject_type="org",
                     payload={"file": path.name, **report.counts()}, actor_id=actor.user_id if actor else None)
    return report


def upsert_person(session: Session, external_id: str, data: PersonFields, *,
                  actor: Principal | None) -> tuple[User, bool]:
    """One person from the HR system, by the same rules as a file's row: the user and whether they are new."""
    try:
        row = OrgRow.model_validate({**data.model_dump(exclude_unset=True), "external_id": external_id})
    except ValidationError as exc:  # the external id, from the path
        raise Invalid("{field_name}: {problem}", field="external_id", field_name="external_id",
                      problem=describe(exc.errors()[0])) from exc
    errors: list[RowError] = []
    report = sync(session, [(1, row)], actor=actor, errors=errors, all_or_nothing=True)
    if errors:
        first = errors[0]
        raise Invalid("{field_name}: {problem}", field=first.field, field_name=first.field, problem=first.message,
                      details=[{"field": e.field, "message": e.message} for e in errors])
    return report.users[1], report.outcome[1] == "created"


def _noting(refused: dict[str, int]) -> Validate[OrgRow]:
    """The rows' own validation, noting whom each refused row names (``planning.refused_keys``)."""
    def validate(rows: list[dict[str, Any]], first: int) -> tuple[list[OrgRow | None], list[RowError]]:
        parsed, errors = KIND.validate(rows, first)
        for number, (row, person) in enumerate(zip(rows, parsed, strict=True), start=first):
            if person is None:
                refused.update(dict.fromkeys(refused_keys(row), number))
        return parsed, errors
    return validate


def sync(session: Session, rows: Sequence[tuple[int, OrgRow]], *, actor: Principal | None, errors: list[RowError],
         all_or_nothing: bool, deactivate_missing: bool = False, progress: Progress | None = None,
         refused: dict[str, int] | None = None) -> OrgReport:
    """Plan the rows against the organisation, then write what the plan changes. Refused rows go to ``errors``
    (``refused``: whom the rows refused before this named); ``all_or_nothing`` writes nothing once a row is
    refused (the caller refuses the whole)."""
    plan = Planner(session, errors, refused=refused).plan(rows)
    if errors and all_or_nothing:
        return OrgReport(rejected=len({e.row for e in errors}))
    report = _Writer(session, actor, errors, progress).write(plan)
    report.rejected = len({e.row for e in errors})
    if deactivate_missing:
        if errors:
            report.missing_kept = True
        else:
            report.deactivated += _deactivate_missing(session, plan, actor)
    return report


class _Writer:
    def __init__(self, session: Session, actor: Principal | None, errors: list[RowError],
                 progress: Progress | None) -> None:
        self.session, self.actor, self.errors = session, actor, errors
        self.progress = progress or (lambda _stage, _done, _total: None)
        self.report = OrgReport()
        self.created: dict[str, Any] = {}  # a new department or region by its name, folded
        self.teams: dict[int, Team] = {}  # id(TeamPlan) → the team

    def write(self, plan: Plan) -> OrgReport:
        self.report.departments = self._references(Department, plan.departments)
        self.report.regions = self._references(Region, plan.regions)
        for team_plan in plan.teams:
            self.teams[id(team_plan)] = team_plan.team or self._new_team(team_plan)
        taken: set[str] = set(self.session.scalars(select(func.lower(User.username))))
        written = [p for p in plan.people if p.listed]
        for done, person in enumerate(written, start=1):
            self._person(person, taken)
            self.progress("written", done, len(written))
        for team_plan in plan.teams:
            self._lead(team_plan)
        return self.report

    # --- departments, regions and teams -----------------------------------------------------------------

    def _references(self, model: type[Department] | type[Region], names: list[str]) -> int:
        for name in names:
            self.created[f"{model.__tablename__}:{name.casefold()}"] = service.create_reference(
                self.session, model, name=name, code=None, actor=self.actor)
        return len(names)

    def _ref(self, model: type[Department] | type[Region], value: Any) -> Any:
        return self.created[f"{model.__tablename__}:{value.casefold()}"] if isinstance(value, str) else value

    def _new_team(self, plan: TeamPlan) -> Team:
        region = self._ref(Region, plan.region())
        data = TeamCreate(name=plan.name, department_id=self._ref(Department, plan.department).id,
                          region_id=region.id if region else None)
        self.report.teams_created += 1
        return service.create(self.session, Team, data, actor=self.actor)

    def _lead(self, plan: TeamPlan) -> None:
        """The team's supervisor (and, for a team there was, its region) as its members have it."""
        team = self.teams[id(plan)]
        boss = plan.supervisor.user if plan.supervisor is not None else None
        region = self._ref(Region, plan.region()) if plan.team is not None else None
        changes: dict[str, Any] = {}
        if boss is not None and boss.id != team.supervisor_id:
            changes["supervisor_id"] = boss.id
        if region is not None and region.id != team.region_id:
            changes["region_id"] = region.id
        if changes:
            service.update(self.session, Team, team.id, TeamUpdate(**changes), actor=self.actor)
            self.report.teams_updated += plan.team is not None

    # --- people --------------------------------------------------------------------------------------

    def _person(self, person: Person, taken: set[str]) -> None:
        values = self._values(person)
        try:
            outcome = self._create(person, values, taken) if person.user is None else self._update(person, values)
        except DomainError as exc:
            self.errors.append(RowError(person.row, exc.field or "row", t(exc.message, **exc.params)))
            return
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)
        if not person.implied:
            self.report.users[person.row] = person.user  # type: ignore[assignment]
            self.report.outcome[person.row] = outcome

    def _values(self, person: Person) -> dict[str, Any]:
        data = person.data
        values = {name: getattr(data, name) for name in USER_FIELDS if getattr(data, name) is not None}
        if data.has_left():
            values["active"] = False
        if data.external_id and (person.user is None or person.user.external_id is None):
            values["external_id"] = data.external_id
        if person.team is not None:
            values["team_id"] = self.teams[id(person.team)].id
        if person.region is not None:
            values["region_id"] = self._ref(Region, person.region).id
        return values

    def _create(self, person: Person, values: dict[str, Any], taken: set[str]) -> str:
        name = person.data.username or usernames.derive(person.name, person.data.email)
        if name is None:
            raise Invalid(NO_USERNAME, field="username")
        name = usernames.unique(name, taken) if not person.data.username else name
        taken.add(name.lower())
        person.user = service.create_user(self.session, UserCreate(username=name, **values), actor=self.actor)
        return "deactivated" if values.get("active") is False else "created"

    def _update(self, person: Person, values: dict[str, Any]) -> str:
        user = person.user
        assert user is not None
        changed = {k: v for k, v in values.items() if getattr(user, k) != v}
        if not changed:
            return "unchanged"
        leaving = changed.get("active") is False
        service.update_user(self.session, user.id, UserUpdate(**changed), actor=self.actor)
        return "deactivated" if leaving else "updated"


def _deactivate_missing(session: Session, plan: Plan, actor: Principal | None) -> int:
    named = {p.user.id for p in plan.people if p.user is not None}
    if actor is not None:
        named.add(actor.user_id)
    gone = session.scalars(select(User.id).where(User.active.is_(True), User.role != Role.ADMIN,
                                                 User.id.not_in(named)).order_by(User.id)).all()
    for user_id in gone:
        service.deactivate_user(session, user_id, actor=actor)
    return len(gone)


def _original_rows(path: Path, rejects: Rejects) -> None:
    """The rows refused after reading (a manager nobody has, a clash with someone else) as they were in the file,
    so the rejects file shows them whole."""
    wanted = {e.row for e in rejects.errors} - set(rejects.rows)
    if not wanted:
        return
    for number, row in enumerate(open_table(path).rows, start=FIRST_DATA_ROW):
        if number in wanted:
            rejects.rows[number] = row
