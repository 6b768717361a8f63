"""``evenhand capture``: the connectors' status and test events."""

from __future__ import annotations

from evenhand.capture.graph_cli import graph_app
from evenhand.i18n import N_
from evenhand.kit.clihelp import Typer

capture_app = Typer(help=N_("Capture connectors: their status, and test events."), no_args_is_help=True)
capture_app.add_typer(graph_app, name="graph")
