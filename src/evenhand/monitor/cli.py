"""``evenhand monitor``: the KPI series, the definitions and the scan for anomalies."""

from __future__ import annotations

from evenhand.i18n import N_
from evenhand.kit.clihelp import Typer

monitor_app = Typer(help=N_("KPI monitoring: refresh the daily series, scan them for anomalies, and the KPI "
                            "definitions."), no_args_is_help=True)
