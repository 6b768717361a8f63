"""``evenhand scorecard``: targets, closing and re-opening periods, the templates, the blocks and the grants. Each
command opens its own unit of work and calls the performance services; a refusal exits with 1, having changed
nothing."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from evenhand.i18n import N_
from evenhand.kit.clihelp import Typer

scorecard_app = Typer(help=N_("Scorecards: targets, templates, closing a period, the blocks and the grants they earn."),
                      no_args_is_help=True)
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
PeriodOption = Annotated[str, typer.Option("--period", help=N_("A month (2026-09) or a quarter (2026-Q3)"))]
JsonOption = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object"))]
out, err = Console(), Console(stderr=True)
