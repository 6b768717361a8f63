"""The Leads page: the leads the signed-in person may see, newest first."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse

from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.leads import repository
from evenhand.models import Lead, User
from evenhand.web import context
from evenhand.web.labels import label
from evenhand.web.layout import Tr, shell

PAGE_SIZE = 200


def _row(lead: Lead, owner: str | None, tr: Tr, zone: ZoneInfo) -> dict[str, Any]:
    return {"id": lead.id, "company": lead.company, "source": lead.source, "industry": lead.industry or "",
            "region": lead.region or "", "score": lead.score, "status": tr(label(lead.status)),
            "owner": owner or "", "created": local(lead.created_at, zone).strftime("%Y-%m-%d %H:%M")}


def register() -> None:
    @ui.page("/leads")
    def leads_page(request: Request) -> RedirectResponse | None:
        principal = context.principal(request)
        if principal is None:
            return RedirectResponse("/login?next=/leads", status_code=303)
        tr = context.use_locale(request)
        zone = get_settings().zone
        with session_scope(context.engine(), readonly=True) as session:
            visible = repository.readable(principal).subquery()
            total = session.scalar(select(func.count()).select_from(visible)) or 0
            stmt = (repository.readable(principal).add_columns(User.display_name)
                    .outerjoin(User, User.id == Lead.owner_id)
                    .order_by(Lead.created_at.desc(), Lead.id.desc()).limit(PAGE_SIZE))
            rows = [_row(lead, owner, tr, zone) for lead, owner in session.execute(stmt).tuples()]
        with shell(principal, tr, title=tr("Leads"), path="/leads"):
            ui.label(tr("{shown} most recent of {total} leads you can see.", shown=len(rows), total=total))
            columns = [{"name": k, "label": tr(label), "field": k, "sortable": True} for k, label in (
                ("company", N_("Company")), ("source", N_("Source")), ("industry", N_("Industry")),
                ("region", N_("Region")), ("score", N_("Score")), ("status", N_("Status")), ("owner", N_("Owner")),
                ("created", N_("Created")))]
            ui.table(columns=columns, rows=rows, row_key="id", pagination=25).classes("w-full")
        return None
