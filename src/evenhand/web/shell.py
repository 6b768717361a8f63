"""Mounts the NiceGUI web UI on the FastAPI app; each domain's pages.py registers its pages here."""

from __future__ import annotations

from fastapi import FastAPI
from nicegui import ui

from evenhand.config import Settings
from evenhand.web import context

_registered = False


def _register_pages() -> None:
    global _registered
    if _registered:  # NiceGUI keeps pages in a process-wide registry; register them once
        return
    from evenhand.appeals import pages as appeal_pages
    from evenhand.leads import pages as lead_pages
    from evenhand.leads import scoring_pages
    from evenhand.notify import ops_pages as notify_ops_pages
    from evenhand.notify import pages as notify_pages
    from evenhand.org import pages as org_pages
    from evenhand.reports import pages as report_pages
    from evenhand.routing import editor_pages as policy_pages
    from evenhand.routing import pages as routing_pages
    from evenhand.routing import presence_pages
    from evenhand.web import pages

    for module in (pages, org_pages, lead_pages, scoring_pages, routing_pages,
                   report_pages, policy_pages, appeal_pages, notify_pages, notify_ops_pages, presence_pages):
        module.register()
    _registered = True


def mount(app: FastAPI, settings: Settings) -> None:
    context.bind(app.state.engine)
    _register_pages()
    ui.run_with(app, title="evenhand", storage_secret=settings.secret(), show_welcome_message=False,
                language="zh-CN" if settings.locale == "zh-CN" else "en-US")
