"""The team ranking and the blocks as files (R3.6): XLSX (the ranking, every metric explained, the blocks) and PDF (the
blocks and the ranking as HTML printed by WeasyPrint, with the CJK fonts). Text is in the locale asked for; figures
in the workbook are numbers, so a reader can sort and sum them."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Literal

from jinja2 import Environment, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from evenhand.i18n import N_, translator
from evenhand.performance import blocks, patterns
from evenhand.performance.metrics import CATALOG, GROUP_LABELS, Group
from evenhand.performance.ranking import Ranking, tier_label
from evenhand.performance.views import CardView
from evenhand.reports.export import Exported

Format = Literal["xlsx", "pdf"]
FORMATS: tuple[Format, ...] = ("xlsx", "pdf")
MEDIA_TYPES: dict[Format, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}
RANK_COLUMNS = (("rank", N_("Rank")), ("rep", N_("Rep")), ("team", N_("Team")), ("department", N_("Department")),
                ("template", N_("Template")), ("total", N_("Total")), ("tier", N_("Tier")),
                ("gate", N_("Capped by")), ("coverage", N_("Coverage, %")), ("results", N_("Results")),
                ("process", N_("Process")), ("quality", N_("Quality")),
                ("flag", N_("High volume, low quality")))
METRIC_COLUMNS = (N_("Rep"), N_("Metric"), N_("Group"), N_("Value"), N_("Target"), N_("Scores zero at"),
                  N_("Points"), N_("Weight"), N_("Sample"), N_("Enough data"))
TITLE = N_("Scorecards {period}")
STATE = {False: N_("Live: computed now, provisional until the period is closed."),
         True: N_("Closed: frozen cards, revision {revision}.")}



def filename(ranking: Ranking, fmt: Format, team_id: int | None = None) -> str:
    """ASCII only: scorecards-2026-Q3[-team-3].xlsx."""
    suffix = f"-team-{team_id}" if team_id is not None else ""
    return f"scorecards-{ranking.period}{suffix}.{fmt}"


def export(ranking: Ranking, fmt: Format, locale: str, *, team_id: int | None = None) -> Exported:
    content = to_xlsx(ranking, locale) if fmt == "xlsx" else to_pdf(ranking, locale)
    return Exported(content, MEDIA_TYPES[fmt], filename(ranking, fmt, team_id))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def rank_record(ranking: Ranking, rank: int, card: CardView, tr: Callable[..., str], locale: str) -> dict[str, Any]:
    """A row of the ranking, figures as numbers."""
    groups = blocks.group_scores(card)
    flag = ranking.flags.get(card.user_id)
    return {"rank": rank, "rep": card.name, "team": card.team, "department": blocks.where(card, ranking.departments),
            "template": card.template_label.get("zh-CN" if locale.startswith("zh") else "en", card.template),
            "total": _round(card.total), "tier": tier_label(ranking, card.tier, locale),
            "gate": tr(CATALOG[card.gate].label) if card.gate else None,
            "coverage": _round(card.coverage) if card.metrics else None,
            "results": _round(groups[Group.RESULTS]), "process": _round(groups[Group.PROCESS]),
            "quality": _round(groups[Group.QUALITY]),
            "flag": "; ".join(patterns.explain(flag, tr)) if flag else None}


def _metric_rows(ranking: Ranking, tr: Callable[..., str]) -> list[list[Any]]:
    return [[card.name, tr(CATALOG[m.metric].label), tr(GROUP_LABELS[CATALOG[m.metric].group]),
             None if m.value is None else round(m.value, 2), round(m.target, 2), round(m.zero, 2),
             _round(m.points), m.weight, m.sample, tr("yes") if m.enough else tr("no")]
            for card in ranking.cards for m in card.metrics]


def _sheet(book: Workbook, name: str, headers: list[str], rows: list[list[Any]]) -> None:
    sheet = book.create_sheet(name[:31])
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for i, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, min(60, 2 * len(header) + 2))
    sheet.freeze_panes = "A2"


def to_xlsx(ranking: Ranking, locale: str) -> bytes:
    """Three sheets: the ranking, every metric of every card, the blocks."""
    tr = translator(locale)
    book = Workbook()
    book.remove(book.worksheets[0])
    records = [rank_record(ranking, n, c, tr, locale) for n, c in enumerate(ranking.cards, start=1)]
    _sheet(book, tr("Ranking"), [tr(h) for _, h in RANK_COLUMNS], [[r[k] for k, _ in RANK_COLUMNS] for r in records])
    _sheet(book, tr("Metrics"), [tr(h) for h in METRIC_COLUMNS], _metric_rows(ranking, tr))
    _sheet(book, tr("Blocks"), [tr("Rep"), tr("Block"), tr("Headline metrics")],
           [[c.name, *blocks.block(c, ranking.departments, tr)] for c in ranking.cards])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
  @page { size: A4 landscape; margin: 10mm; }
  body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
         color: #1d2630; font-size: 10.5px; line-height: 1.4; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 16px 0 6px; }
  .meta { color: #5b6770; }
  .block { border: 1px solid #ccd3d9; border-left: 4px solid #1f5f8b; padding: 4px 8px; margin: 4px 0;
           break-inside: avoid; }
  .block.flagged { border-left-color: #c62828; } .block .second { color: #37474f; }
  .block .why { color: #c62828; font-size: 9.5px; }
  table { border-collapse: collapse; width: 100%; } tr { break-inside: avoid; }
  th, td { border: 1px solid #ccd3d9; padding: 2px 5px; text-align: right; }
  th { background: #eef2f5; } td.text, th.text { text-align: left; } tr.flagged td { background: #fdecea; }
</style></head><body>
<h1>{{ title }}</h1><div class="meta">{{ state }}</div>
<h2>{{ ranking_heading }}</h2>
<table><tr>{% for key, header in headers %}<th class="{{ 'text' if key in text else '' }}">{{ header }}</th>{% endfor %}
</tr>{% for row in rows %}<tr class="{{ 'flagged' if row.flag else '' }}">{% for key, header in headers %}
<td class="{{ 'text' if key in text else '' }}">{{ '' if row[key] is none else row[key] }}</td>{% endfor %}</tr>
{% endfor %}</table>
<h2>{{ blocks_heading }}</h2>
{% for block in blocks %}<div class="block{{ ' flagged' if block.why else '' }}"><div>{{ block.first }}</div>
<div class="second">{{ block.second }}</div>{% for line in block.why %}<div class="why">{{ line }}</div>{% endfor %}
</div>{% endfor %}
</body></html>"""
TEXT_COLUMNS = frozenset({"rep", "team", "department", "template", "tier", "gate", "flag"})


def to_html(ranking: Ranking, locale: str) -> str:
    tr = translator(locale)
    rows = [rank_record(ranking, n, c, tr, locale) for n, c in enumerate(ranking.cards, start=1)]
    shown = [{"first": first, "second": second,
              "why": patterns.explain(ranking.flags[c.user_id], tr) if c.user_id in ranking.flags else []}
             for c in ranking.cards for first, second in [blocks.block(c, ranking.departments, tr)]]
    environment = Environment(autoescape=select_autoescape(default_for_string=True))
    return environment.from_string(PAGE).render(
        lang=locale, title=tr(TITLE, period=ranking.period),
        state=tr(STATE[ranking.frozen], revision=ranking.revision), ranking_heading=tr("Team ranking"),
        blocks_heading=tr("Scorecards"), headers=[(k, tr(h)) for k, h in RANK_COLUMNS], text=TEXT_COLUMNS,
        rows=rows, blocks=shown)


def to_pdf(ranking: Ranking, locale: str) -> bytes:
    from weasyprint import HTML  # imported late: it loads fonts and Pango on import

    pdf = HTML(string=to_html(ranking, locale)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
