"""``evenhand canary``: a routing policy version serving a share of leads, compared with the active one."""

from __future__ import annotations

from evenhand.i18n import N_
from evenhand.kit.clihelp import Typer

canary_app = Typer(help=N_("Canaries: roll a routing policy out to a share of leads, compare, roll back."),
                   no_args_is_help=True)
