"""Organisation pages: team rosters with live presence (Admin, and a supervisor's own team)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.models import KEY_ACCOUNT_GRANT, Department, Level, Region, Role, Team, User
from evenhand.org import repository, service
from evenhand.org.rep_settings import RepSettings
from evenhand.org.schemas import GrantCreate, TeamCreate, UserCreate
from evenhand.web import context, forms
from evenhand.web.labels import label
from evenhand.web.layout import STAFF, Tr, presence_chip, shell

REFRESH_SECONDS = 5.0


def rosters_panel(principal: Principal, tr: Tr, *, settings: bool = False) -> ui.refreshable:
    """Teams the principal may see, each with its reps' level and presence, refreshed live. With
    ``settings``, the names of the reps the principal may act for open their routing settings."""
    dialog = RepSettings(principal, tr, on_change=lambda: render.refresh()) if settings else None

    def opens(member: User) -> Callable[[], None] | None:
        if dialog is None or not (principal.manages_org or member.team_id in principal.supervised_team_ids):
            return None
        return lambda: dialog.open(member.id)

    shown: list[Any] = [None]

    def read() -> list[Any]:
        with session_scope(context.engine(), readonly=True) as session:
            return repository.rosters(session, principal)

    @ui.refreshable
    def render() -> None:
        teams = read()
        shown[0] = _picture(teams)
        if not teams:
            ui.label(tr("No team to show.")).classes("text-grey")
        for team, dept, region, supervisor, members in teams:
            _team_card(tr, team.name, dept, region, supervisor.display_name if supervisor else None, members, opens)

    def follow() -> None:
        """Redraw only when a roster changed: a redraw under the pointer would swallow a click on a name."""
        if _picture(read()) != shown[0]:
            render.refresh()

    render()
    ui.timer(REFRESH_SECONDS, follow)
    return render


def _picture(teams: list[Any]) -> list[Any]:
    """What a roster shows, to tell whether it changed."""
    return [(team.name, dept, region, supervisor.display_name if supervisor else None,
             [(m.id, m.display_name, m.username, m.external_id, m.role, m.level, m.presence, m.presence_since,
               m.active) for m in members]) for team, dept, region, supervisor, members in teams]


def _team_card(tr: Tr, name: str, dept: str, region: str | None, supervisor: str | None,
               members: list[User], opens: Callable[[User], Callable[[], None] | None]) -> None:
    zone = get_settings().zone
    online = sum(1 for m in members if m.presence.value == "online")
    with ui.card().classes("w-full").props(f'data-team="{name}"'):
        with ui.row().classes("items-baseline gap-3"):
            ui.label(name).classes("text-h6")
            ui.label(" · ".join(x for x in (dept, region) if x)).classes("text-grey-7")
            ui.label(tr("Supervisor: {name}", name=supervisor or "—")).classes("text-grey-7")
            ui.label(tr("{online} of {total} online", online=online, total=len(members))).classes("text-grey-7")
        with ui.grid(columns=6).classes("w-full gap-y-1 text-body2"):
            for header in (N_("Name"), N_("Role"), N_("Level"), N_("Presence"), N_("Since"), N_("Status")):
                ui.label(tr(header)).classes("text-weight-bold")
            for m in members:
                with ui.row().classes("items-baseline gap-2 no-wrap"):
                    who = ui.label(f"{m.display_name} ({m.username})").props(f'data-rep="{m.username}"')
                    if m.external_id:  # the HR system's id, which imports find the person by
                        ui.label(m.external_id).classes("text-caption text-grey-7").props(
                            f'data-external-id="{m.external_id}"').tooltip(tr("External id"))
                if (open_settings := opens(m)) is not None:
                    who.classes("text-primary cursor-pointer").on("click", open_settings)
                    who.tooltip(tr("Routing settings and leave"))
                ui.label(tr(label(m.role)))
                ui.label(tr(label(m.level)))
                presence_chip(m.presence, tr)
                ui.label(local(m.presence_since, zone).strftime("%m-%d %H:%M"))
                ui.label(tr("Active") if m.active else tr("Departed"))


def key_accounts_panel(principal: Principal, tr: Tr) -> None:
    """Who may enter key-account pools, team by team; sales ops grants and revokes it here (audited). Not
    refreshed with the rosters, so a switch is never rebuilt under the pointer."""
    with session_scope(context.engine(), readonly=True) as session:
        teams = repository.rosters(session, principal)
        holders = service.holders(session, KEY_ACCOUNT_GRANT)
    with ui.card().classes("w-full"):
        ui.label(tr("Key-account grant")).classes("text-h6")
        ui.label(tr("Only reps holding it enter pools marked key_account in the routing policy.")).classes(
            "text-grey-7")
        for team, _, _, _, members in teams:
            _key_accounts(principal, tr, team.name, members, holders)


def _key_accounts(principal: Principal, tr: Tr, team: str, members: list[User], holders: set[int]) -> None:
    reps = [m for m in members if m.role in (Role.REP, Role.SUPERVISOR) and m.active]
    with ui.row().classes("items-center gap-2").props(f'data-key-accounts="{team}"'):
        ui.label(team).classes("text-weight-bold text-body2")
        for m in reps:
            if principal.manages_org:
                ui.switch(m.display_name, value=m.id in holders,
                          on_change=lambda e, uid=m.id: _set_key_account(principal, tr, uid, e.value)).props(
                    f'dense data-grant-user="{m.username}"')
            elif m.id in holders:
                ui.chip(m.display_name, icon="verified").props("dense outline")


def _set_key_account(principal: Principal, tr: Tr, user_id: int, on: bool) -> None:
    try:
        with session_scope(context.engine()) as session:
            if on:
                service.grant(session, user_id, GrantCreate(grant=KEY_ACCOUNT_GRANT,
                                                            reason=tr("granted on the Admin page")), actor=principal)
            elif service.holds_grant(session, user_id, KEY_ACCOUNT_GRANT):
                service.revoke(session, user_id, KEY_ACCOUNT_GRANT, actor=principal)
    except DomainError as exc:
        ui.notify(tr(exc.message, **exc.params), type="negative")
        return
    ui.notify(tr("Key-account grant given.") if on else tr("Key-account grant revoked."), type="positive")


def register() -> None:
    @ui.page("/admin")
    @context.page
    def admin_page(principal: Principal, tr: Tr, request: Request) -> RedirectResponse | None:
        if principal.role not in STAFF:
            return RedirectResponse("/", status_code=303)
        with shell(principal, tr, title=tr("Teams and reps"), path="/admin"):
            dialogs = _org_dialogs(principal, tr) if principal.manages_org else []
            roster = rosters_panel(principal, tr, settings=True)
            key_accounts_panel(principal, tr)
            for dialog in dialogs:
                dialog.on("hide", roster.refresh)
        return None


def _org_dialogs(principal: Principal, tr: Tr) -> list[ui.dialog]:
    """Sales ops adds people, departments, regions and teams from here (each audited, like the API's)."""
    people = _new_user_dialog(principal, tr)
    departments = _reference_dialog(principal, tr, Department, N_("New department"), "department")
    regions = _reference_dialog(principal, tr, Region, N_("New region"), "region")
    teams = _new_team_dialog(principal, tr)
    with ui.row().classes("gap-2"):
        for dialog, text, icon, testid in ((people, N_("New user"), "person_add", "new-user"),
                                           (departments, N_("New department"), "domain_add", "new-department"),
                                           (regions, N_("New region"), "add_location_alt", "new-region"),
                                           (teams, N_("New team"), "group_add", "new-team")):
            ui.button(tr(text), icon=icon, on_click=dialog.open).props(f'outline data-testid="{testid}"')
    return [people, departments, regions, teams]


def _reference_dialog(principal: Principal, tr: Tr, model: type[Department] | type[Region], title: str,
                      kind: str) -> ui.dialog:
    with ui.dialog() as dialog, ui.card().classes("w-96").props(f'data-testid="{kind}-dialog"'):
        ui.label(tr(title)).classes("text-h6")
        name = ui.input(tr("Name")).props('data-field="name"')
        code = ui.input(tr("Code (made from the name when left empty)")).props('data-field="code"')
        alert = ui.label().classes("text-negative").props('role="alert"')

        def save() -> None:
            try:
                with session_scope(context.engine()) as session:
                    row = service.create_reference(session, model, name=name.value or "", code=code.value or None,
                                                   actor=principal)
                    created = f"{row.name} ({row.code})"
            except (ValidationError, DomainError) as exc:
                alert.text = forms.problem(exc, tr)
                return
            ui.notify(tr("Created {name}.", name=created), type="positive")
            name.value = code.value = alert.text = ""
            dialog.close()

        _actions(tr, dialog, save, f"save-{kind}")
    return dialog


def _new_team_dialog(principal: Principal, tr: Tr) -> ui.dialog:
    """A team: its name, department, region and supervisor; the choices are read again each time it opens."""
    with ui.dialog() as dialog, ui.card().classes("w-96").props('data-testid="team-dialog"'):
        ui.label(tr("New team")).classes("text-h6")
        name = ui.input(tr("Name")).props('data-field="team-name"')
        department = ui.select({}, label=tr("Department")).props('data-field="department"')
        region = ui.select({}, label=tr("Region"), clearable=True).props('data-field="region"')
        supervisor = ui.select({}, label=tr("Supervisor"), clearable=True).props('data-field="supervisor"')
        alert = ui.label().classes("text-negative").props('role="alert"')

        def choices() -> None:
            with session_scope(context.engine(), readonly=True) as session:
                department.set_options(service.names_by_id(session, Department))
                region.set_options(service.names_by_id(session, Region))
                supervisor.set_options(service.supervisor_names(session))

        def save() -> None:
            try:
                data = TeamCreate(name=name.value or "", department_id=department.value, region_id=region.value,
                                  supervisor_id=supervisor.value)
                with session_scope(context.engine()) as session:
                    team = service.create(session, Team, data, actor=principal)
                    created = team.name
            except (ValidationError, DomainError) as exc:
                alert.text = forms.problem(exc, tr)
                return
            ui.notify(tr("Created team {name}.", name=created), type="positive")
            name.value, alert.text = "", ""
            dialog.close()

        _actions(tr, dialog, save, "save-team")
    dialog.on("show", choices)
    return dialog


def _actions(tr: Tr, dialog: ui.dialog, save: Callable[[], None], testid: str) -> None:
    with ui.row().classes("justify-end w-full"):
        ui.button(tr("Cancel"), on_click=dialog.close).props("flat")
        ui.button(tr("Save"), on_click=save).props(f'color=primary data-testid="{testid}"')


def _new_user_dialog(principal: Principal, tr: Tr) -> ui.dialog:
    """Sales ops adds a rep without leaving the page; errors name the field and nothing is saved."""
    with ui.dialog() as dialog, ui.card().classes("w-96"):
        ui.label(tr("New user")).classes("text-h6")
        name = ui.input(tr("Name")).props('data-field="display_name"')
        username = ui.input(tr("Username (made from the name when left empty)")).props('data-field="username"')
        external_id = ui.input(tr("External id")).props('data-field="external_id"')
        role = ui.select({r.value: tr(label(r)) for r in Role}, value=Role.REP.value, label=tr("Role"))
        level = ui.select({lv.value: tr(label(lv)) for lv in Level}, value=Level.JUNIOR.value, label=tr("Level"))
        team = ui.select({}, label=tr("Team"), clearable=True)
        password = ui.input(tr("Password"), password=True).props('data-field="password"')
        alert = ui.label().classes("text-negative").props('role="alert"')

        def save() -> None:
            try:
                with session_scope(context.engine()) as session:
                    login = username.value or service.username_for(session, name.value or "") or ""
                    data = UserCreate(username=login, display_name=name.value, role=role.value, level=level.value,
                                      team_id=team.value, external_id=external_id.value or None,
                                      password=password.value or None)
                    user = service.create_user(session, data, actor=principal)
                    created = user.username
            except (ValidationError, DomainError) as exc:
                alert.text = forms.problem(exc, tr)
                return
            ui.notify(tr("Created user {name}.", name=created), type="positive")
            dialog.close()

        _actions(tr, dialog, save, "save-user")

    def teams_now() -> None:  # a team made from this page since it opened is offered too
        with session_scope(context.engine(), readonly=True) as session:
            team.set_options(service.team_names(session))

    dialog.on("show", teams_now)
    return dialog
