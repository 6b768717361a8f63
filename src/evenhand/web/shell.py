"""Mounts the NiceGUI web UI on the FastAPI app with the pages the domains register (the app names them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import FastAPI
from nicegui import ui

from evenhand.config import Settings
from evenhand.web import context
from evenhand.web import pages as web_pages

Register = Callable[[], None]
_registered = False


def _register_pages(pages: Sequence[Register]) -> None:
    global _registered
    if _registered:  # NiceGUI keeps pages in a process-wide registry; register them once
        return
    for register in (web_pages.register, *pages):
        register()
    _registered = True


def mount(app: FastAPI, settings: Settings, pages: Sequence[Register]) -> None:
    """Serve the UI on ``app``; ``pages`` are the domains' ``register`` functions, which add their pages,
    header controls and home-page sections."""
    context.bind(app.state.engine)
    _register_pages(pages)
    ui.run_with(app, title="evenhand", storage_secret=settings.secret(), show_welcome_message=False,
                language="zh-CN" if settings.locale == "zh-CN" else "en-US")
