"""The fairness report as files: self-contained HTML, CSV (one row per rep), XLSX and PDF.

Text is in the locale asked for; the PDF is the HTML printed by WeasyPrint, so both show the same
tables and the same server-drawn SVG charts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from evenhand.appeals.schemas import REASON_CODES
from evenhand.i18n import N_, translator
from evenhand.kit.clock import local
from evenhand.reports import view
from evenhand.reports.monthly import FairnessReport, TeamReport

Format = Literal["html", "csv", "xlsx", "pdf"]
FORMATS: tuple[Format, ...] = ("html", "csv", "xlsx", "pdf")
MEDIA_TYPES: dict[Format, str] = {
    "html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}
PERCENT = "0.0%"


@dataclass(frozen=True)
class Exported:
    content: bytes
    media_type: str
    filename: str



def filename(report: FairnessReport, fmt: Format, team_id: int | None = None) -> str:
    """ASCII only, so every browser and mail client keeps it: fairness-2026-11[-team-3].pdf."""
    suffix = f"-team-{team_id}" if team_id is not None else ""
    return f"fairness-{report.month.label}{suffix}.{fmt}"


def export(report: FairnessReport, fmt: Format, locale: str, *, team_id: int | None = None) -> Exported:
    writers: dict[Format, Callable[[FairnessReport, str], bytes]] = {
        "html": lambda r, loc: to_html(r, loc).encode("utf-8"), "csv": to_csv, "xlsx": to_xlsx, "pdf": to_pdf}
    return Exported(writers[fmt](report, locale), MEDIA_TYPES[fmt], filename(report, fmt, team_id))


# --- HTML and PDF ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=PackageLoader("evenhand.reports", "templates"), autoescape=select_autoescape(["j2"]),
                       trim_blocks=False, lstrip_blocks=False)


def _team_context(team: TeamReport, tr: Callable[..., str]) -> dict[str, Any]:
    rows = view.rep_rows(team, tr)
    for row, line in zip(rows, team.reps, strict=True):
        row["css"] = "equal" if line.evidence in ("equal_share", "mixed") else ""
    note = {"equal_share": tr("No routing evidence for this team this month: every rep is measured against an "
                              "equal share of the reps at work each day."),
            "mixed": tr("{count} of {total} leads were handed out without a routing decision; those are measured "
                        "against an equal share.", count=team.unrouted, total=team.leads)}.get(team.evidence)
    return {"id": team.id, "name": team.name, "department": team.department, "rows": rows, "equal_note": note,
            "chart": Markup(view.chart(team, tr)), "facts": view.team_facts(team, tr),
            "appeal_counts": view.appeal_counts(team, tr)}


def to_html(report: FairnessReport, locale: str) -> str:
    tr = translator(locale)
    generated = local(report.generated_at, ZoneInfo(report.zone)).strftime("%Y-%m-%d %H:%M")
    return _environment().get_template("fairness.html.j2").render(
        lang=locale, title=view.title(report, tr), policy=view.policy_line(report, tr),
        arrivals=view.arrivals_line(report, tr),
        generated=tr("Generated {at} ({zone})", at=generated, zone=report.zone), method=view.method_lines(tr),
        rep_headers=[(key, tr(header)) for key, header in view.REP_COLUMNS],
        appeals_heading=tr("Appeals filed this month"), no_teams=tr("No team to report on."),
        teams=[_team_context(team, tr) for team in report.teams])


def to_pdf(report: FairnessReport, locale: str) -> bytes:
    from weasyprint import HTML  # imported late: it loads fonts and Pango on import

    pdf = HTML(string=to_html(report, locale)).write_pdf()
    assert pdf is not None
    return bytes(pdf)


# --- CSV and XLSX ----------------------------------------------------------------------------------


def _rep_records(report: FairnessReport) -> list[dict[str, Any]]:
    """One record per rep, numbers as numbers (shares as fractions)."""
    out = []
    for team in report.teams:
        for line in team.reps:
            points = view.gap(line)
            out.append({"month": report.month.label, "team": team.name, "rep": line.name, "username": line.username,
                        "leads": line.leads, "high_value": line.high_value,
                        "high_value_share": _round(line.high_value_share), "won": line.won,
                        "conversion_rate": _round(line.conversion_rate), "expected": round(line.expected, 2),
                        "expected_share": _round(line.expected_share), "actual_share": _round(line.actual_share),
                        "gap": None if points is None else round(points, 2), "evidence": line.evidence})
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


EXTRA_COLUMNS = (("month", N_("Month")), ("team", N_("Team")))
USERNAME = ("username", N_("Username"))


def _rep_columns() -> list[tuple[str, str]]:
    rep, *rest = view.REP_COLUMNS
    return [*EXTRA_COLUMNS, rep, USERNAME, *rest]


def to_csv(report: FairnessReport, locale: str) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens Chinese text correctly."""
    tr = translator(locale)
    columns = _rep_columns()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([tr(header) for _, header in columns])
    for record in _rep_records(report):
        writer.writerow(["" if record[key] is None else _cell(key, record[key], tr) for key, _ in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(key: str, value: Any, tr: Callable[..., str]) -> Any:
    return tr(view.EVIDENCE[value]) if key == "evidence" else value


TEAM_COLUMNS = (("month", N_("Month")), ("team", N_("Team")), ("department", N_("Department")),
                ("leads", N_("Leads received")), ("high_value", N_("High-value leads")), ("won", N_("Won")),
                ("routed", N_("Routed leads")), ("unrouted", N_("Leads without a routing decision")),
                ("statistic", N_("Chi-square")), ("dof", N_("Degrees of freedom")), ("p_value", N_("p-value")),
                ("pooled", N_("Reps pooled")), ("gini", N_("Gini of lead value received")),
                ("appeals", N_("Appeals filed")))


def _team_record(report: FairnessReport, team: TeamReport) -> dict[str, Any]:
    test = team.chi_square
    return {"month": report.month.label, "team": team.name, "department": team.department, "leads": team.leads,
            "high_value": team.high_value, "won": team.won, "routed": team.routed, "unrouted": team.unrouted,
            "statistic": None if test is None else round(test.statistic, 4), "dof": None if test is None else test.dof,
            "p_value": None if test is None else float(f"{test.p_value:.4g}"),
            "pooled": None if test is None else test.merged, "gini": round(team.gini, 4),
            "appeals": team.appeals.filed}


def _sheet(book: Workbook, name: str, headers: list[str], rows: list[list[Any]],
           percent: frozenset[int] = frozenset()) -> None:
    sheet = book.create_sheet(name[:31])
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for col in percent:
        for cell in sheet.iter_rows(min_row=2, min_col=col + 1, max_col=col + 1):
            cell[0].number_format = PERCENT
    for i, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, min(40, 2 * len(header) + 2))
    sheet.freeze_panes = "A2"


def to_xlsx(report: FairnessReport, locale: str) -> bytes:
    """Three sheets: reps, teams, appeals."""
    tr = translator(locale)
    book = Workbook()
    book.remove(book.worksheets[0])
    columns = _rep_columns()
    shares = frozenset(i for i, (key, _) in enumerate(columns) if key.endswith(("_share", "_rate")))
    _sheet(book, tr("Reps"), [tr(h) for _, h in columns],
           [[_cell(k, r[k], tr) if r[k] is not None else None for k, _ in columns] for r in _rep_records(report)],
           shares)
    _sheet(book, tr("Teams"), [tr(h) for _, h in TEAM_COLUMNS],
           [[_team_record(report, team)[k] for k, _ in TEAM_COLUMNS] for team in report.teams])
    _sheet(book, tr("Appeals"), [tr(h) for h in (N_("Team"), *(h for _, h in view.APPEAL_COLUMNS))],
           _appeal_rows(report, tr))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _appeal_rows(report: FairnessReport, tr: Callable[..., str]) -> list[list[Any]]:
    zone = ZoneInfo(report.zone)
    rows = []
    for team in report.teams:
        names = {line.rep_id: line.name for line in team.reps}
        for a in team.appeal_rows:
            rows.append([team.name, a.id, local(a.filed_at, zone).strftime("%Y-%m-%d %H:%M"),
                         names.get(a.appellant_id, str(a.appellant_id)), a.lead_id,
                         tr(REASON_CODES.get(a.reason_code, a.reason_code)),
                         tr(view.APPEAL_LABELS.get(a.status, a.status)),
                         local(a.decided_at, zone).strftime("%Y-%m-%d %H:%M") if a.decided_at else None])
    return rows
