"""The app shell: header, navigation for every domain, language switch, presence and sign-out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from nicegui import run, ui

from evenhand.auth.principal import Principal
from evenhand.i18n import N_
from evenhand.models import Presence, Role
from evenhand.web.labels import label

Tr = Callable[..., str]
Part = Callable[..., None]


class Slot:
    """A place in a page that other domains fill: each part draws itself (or nothing, for whom it does not
    concern), in its ``order``, from what the page passes (the principal, the translator, then the page's own
    subject: a lead id, a decision id). Domains add their parts when their pages register, so a page never
    imports the domains that extend it."""

    def __init__(self) -> None:
        self._parts: dict[Part, int] = {}

    def add(self, part: Part, *, order: int) -> None:
        self._parts[part] = order

    def draw(self, principal: Principal, tr: Tr, *subject: object) -> None:
        for part in sorted(self._parts, key=self._parts.__getitem__):
            part(principal, tr, *subject)


HEADER = Slot()  # the controls in the header of every page (the presence switch, the inbox bell)
HOME = Slot()  # the sections of the home page
LEAD_SIDE = Slot()  # under a lead's facts, given its id (routing: why this rep, and the decision's actions)
DECISION_ACTIONS = Slot()  # under a routing decision, given its id (appeals: appeal, reassign)
LEAD_WORK = Slot()  # below a lead's page, given its id (activities: the timeline; standards: the checklist)
DEAL_WORK = Slot()  # below an opportunity's page, given its id (activities: the timeline; standards: the checklist)


@dataclass(frozen=True)
class NavItem:
    label: str
    icon: str
    path: str
    roles: frozenset[Role] | None = None


EVERYONE = None
STAFF = frozenset({Role.ADMIN, Role.OPS, Role.AUDITOR})
NAV = (
    NavItem(N_("Home"), "home", "/"),
    NavItem(N_("Leads"), "contacts", "/leads"),
    NavItem(N_("Opportunities"), "handshake", "/opportunities"),
    NavItem(N_("Activities"), "call", "/activities"),
    NavItem(N_("Lead scoring"), "tune", "/scoring"),
    NavItem(N_("Routing"), "alt_route", "/routing"),
    NavItem(N_("Appeals"), "gavel", "/appeals"),
    NavItem(N_("Reports"), "assessment", "/reports/fairness"),
    NavItem(N_("Stage standards"), "checklist", "/process/standards"),
    NavItem(N_("Process"), "timeline", "/process"),
    NavItem(N_("Honesty checks"), "fact_check", "/process/honesty"),
    NavItem(N_("Alerts"), "notification_important", "/alerts"),
    NavItem(N_("QA"), "record_voice_over", "/qa"),
    NavItem(N_("Performance"), "leaderboard", "/performance"),
    NavItem(N_("Incentives"), "workspace_premium", "/performance/incentives"),
    NavItem(N_("Peer review"), "reviews", "/performance/peer"),
    NavItem(N_("Scorecard templates"), "rule", "/performance/templates"),
    NavItem(N_("Monitoring"), "monitor_heart", "/monitor", roles=STAFF | {Role.SUPERVISOR}),
    NavItem(N_("Notification delivery"), "notifications_active", "/notifications/ops", roles=STAFF),
    NavItem(N_("Connectors"), "cable", "/admin/connectors", roles=frozenset({Role.ADMIN, Role.OPS})),
    NavItem(N_("Admin"), "admin_panel_settings", "/admin", roles=STAFF),
)
PRESENCE_COLOURS = {Presence.ONLINE: "positive", Presence.AWAY: "warning", Presence.OFFLINE: "grey"}


@contextmanager
def home_tile(tr: Tr, name: str, title: str, count: int | None, *, see_all: str | None = None) -> Iterator[None]:
    """A tile of the home page, read as a work list: a heading with its count, then the few rows drawn inside,
    and a link to the page behind it. ``name`` marks the tile (``data-home``)."""
    with ui.card().classes("w-full max-w-4xl gap-1").props(f'data-home="{name}" flat bordered'):
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(title).classes("text-h6")
            if count is not None:
                ui.badge(f"{count:,}", color="primary" if count else "grey").props('data-testid="home-count"')
            ui.space()
            if see_all is not None:
                ui.link(tr("See all"), see_all).props('data-testid="see-all"')
        yield


def home_empty(text: str) -> None:
    """What a tile says when nothing waits."""
    ui.label(text).classes("text-grey-7").props('data-testid="home-empty"')


def presence_chip(presence: Presence, tr: Tr) -> None:
    ui.badge(tr(label(presence)), color=PRESENCE_COLOURS[presence]).props("outline").classes(
        f"presence-{presence.value} w-fit")


@contextmanager
def shell(principal: Principal, tr: Tr, *, title: str, path: str) -> Iterator[None]:
    ui.page_title(f"{title} · evenhand")
    drawer = ui.left_drawer(value=True).classes("bg-grey-2").props("width=220 bordered")
    with drawer:
        _navigation(principal, tr, path)
    with ui.header().classes("items-center bg-blue-grey-9 q-px-md"):
        ui.button(icon="menu", on_click=drawer.toggle).props("flat round color=white")
        ui.label("evenhand").classes("text-h6 text-white")
        ui.label(tr("Fair lead routing")).classes("text-caption text-blue-grey-3 gt-xs")
        ui.space()
        HEADER.draw(principal, tr)
        _language_switch(tr, path)
        ui.label(f"{principal.display_name} · {tr(label(principal.role))}").classes(
            "text-white q-ml-md").props('data-testid="whoami"')
        with ui.element("form").props('method="post" action="/auth/logout"'):
            ui.button(icon="logout").props('flat round color=white type=submit aria-label="Sign out"')
    with ui.column().classes("w-full q-pa-md gap-4"):
        ui.label(title).classes("text-h5")
        yield


def _navigation(principal: Principal, tr: Tr, path: str) -> None:
    with ui.list().classes("w-full"):
        for item in NAV:
            if item.roles is not None and principal.role not in item.roles:
                continue
            with ui.item(on_click=lambda p=item.path: ui.navigate.to(p)).classes(
                    "text-weight-bold" if item.path == path else "").props("clickable") as row:
                with ui.item_section().props("avatar"):
                    ui.icon(item.icon)
                with ui.item_section():
                    ui.item_label(tr(item.label))
            row.props(f'data-nav="{item.path}"')


def _language_switch(tr: Tr, path: str) -> None:
    with ui.button_group().props("flat"):
        for code, label in (("zh-CN", "中文"), ("en", "EN")):
            ui.button(label, on_click=lambda c=code: ui.navigate.to(f"/auth/locale/{c}?next={path}")).props(
                f'flat dense color=white data-locale="{code}"')


T = TypeVar("T")


def later(box: ui.element, load: Callable[[], T | None], draw: Callable[[T], None]) -> None:
    """Fill ``box`` once the page is connected, reading in a worker thread so the page never waits for figures."""
    async def fill() -> None:
        found = await run.io_bound(load)
        if found is None:  # the server is shutting down
            return
        box.clear()
        with box:
            draw(found)

    ui.timer(0, fill, once=True)
