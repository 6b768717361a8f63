"""``evenhand changes``: the change registry."""

from __future__ import annotations

from evenhand.i18n import N_
from evenhand.kit.clihelp import Typer

changes_app = Typer(help=N_("The change registry: record a change, fill its impact checklist, release it."),
                    no_args_is_help=True)
