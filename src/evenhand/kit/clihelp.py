"""``--help`` in the reader's language: a ``typer.Typer`` whose groups and commands translate their help texts
(and the titles of its panels) through ``t()`` each time Click renders them.

The texts stay English source strings marked ``N_`` on the Click objects; ``format_help`` swaps in the translation
for the length of one rendering and puts the source back. So the language is ``EVENHAND_LOCALE`` when help is shown,
not when the module was imported, and one process can show both. (A lazy ``str`` subclass would not do: Click and
Typer reformat help with ``str`` methods, which return plain copies of the English.)

Rich wraps a table cell at spaces and crops a longer run with "…"; Chinese has no spaces, so for the same rendering
help texts are made to fold at the cell's edge instead (Typer already folds its type column so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.text import Text
from typer import rich_utils
from typer.core import TyperArgument, TyperCommand, TyperGroup

from evenhand.i18n import N_, t

ARGUMENTS, OPTIONS, COMMANDS = N_("Arguments"), N_("Options"), N_("Commands")
# Help of the options Click and Typer add themselves, word for word, so the catalogue translates them too.
BUILT_IN = (N_("Show this message and exit."), N_("Install completion for the current shell."),
            N_("Show completion for the current shell, to copy it or customize the installation."))


class Typer(typer.Typer):
    """``typer.Typer`` whose own group and every command render their help translated."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", TranslatedGroup)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = None,
                **kwargs: Any) -> Callable[[Any], Any]:
        return super().command(name, cls=cls or TranslatedCommand, **kwargs)


class TranslatedCommand(TyperCommand):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _translated(self, ctx):
            super().format_help(ctx, formatter)


class TranslatedGroup(TyperGroup):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _translated(self, ctx):
            super().format_help(ctx, formatter)


@contextmanager
def _translated(command: TyperCommand | TyperGroup, ctx: Any) -> Iterator[None]:
    """The command's help, its parameters' and (for a group) its subcommands' summaries in the current locale, and
    the panels they sit in titled alike; the English sources come back afterwards."""
    saved: list[tuple[object, str, Any]] = []

    def swap(obj: object, attr: str, default: str | None = None) -> None:
        source = getattr(obj, attr, None) or default
        if source is not None and hasattr(obj, attr):
            saved.append((obj, attr, getattr(obj, attr)))
            setattr(obj, attr, t(source))

    for attr in ("help", "short_help", "epilog"):
        swap(command, attr)
    for param in command.get_params(ctx):
        swap(param, "help")
        swap(param, "rich_help_panel", ARGUMENTS if isinstance(param, TyperArgument) else OPTIONS)
    for sub in getattr(command, "commands", {}).values():
        swap(sub, "help")
        swap(sub, "short_help")
        swap(sub, "rich_help_panel", COMMANDS)
    make_text = getattr(rich_utils, "_make_rich_text", None)
    if make_text is not None:
        def folding(**kwargs: Any) -> Any:
            text = make_text(**kwargs)
            if isinstance(text, Text):
                text.overflow = "fold"
            return text

        saved.append((rich_utils, "_make_rich_text", make_text))
        rich_utils._make_rich_text = folding
    try:
        yield
    finally:
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)
