"""Every export format of the fairness report parses back: csv, openpyxl, pdftotext, the HTML itself."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from evenhand.reports import export
from evenhand.reports.charts import Bars, actual_vs_expected
from evenhand.reports.monthly import FairnessReport, compute
from tests.reports.factory import inputs


@pytest.fixture(scope="module")
def report() -> FairnessReport:
    return compute(inputs())


def test_csv_has_a_bom_one_row_per_rep_and_numbers(report: FairnessReport) -> None:
    raw = export.to_csv(report, "zh-CN")
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["月份", "团队", "销售代表", "用户名"] and "应得份额" in header
    assert [r[2] for r in body] == ["李明", "王芳", "赵磊"]
    wang = dict(zip(header, body[1], strict=True))
    assert (wang["获得线索数"], wang["赢单"], wang["应得线索数"]) == ("3", "1", "1.83")
    assert float(wang["实际份额"]) == 0.75 and float(wang["应得份额"]) == pytest.approx(11 / 24, abs=1e-4)
    assert wang["对照依据"] == "无分配决策记录：以平均份额作为对照"
    zhao = dict(zip(header, body[2], strict=True))
    assert zhao["转化率"] == ""  # no leads, no rate


def test_csv_in_english(report: FairnessReport) -> None:
    header = next(csv.reader(io.StringIO(export.to_csv(report, "en").decode("utf-8-sig"))))
    assert header[:3] == ["Month", "Team", "Rep"] and "Expected share" in header


def test_xlsx_has_reps_teams_and_appeals(report: FairnessReport) -> None:
    book = load_workbook(io.BytesIO(export.to_xlsx(report, "en")))
    assert book.sheetnames == ["Reps", "Teams", "Appeals"]
    reps = list(book["Reps"].iter_rows(values_only=True))
    assert [r[2] for r in reps[1:]] == ["李明", "王芳", "赵磊"]
    share = reps[0].index("Actual share")
    assert reps[2][share] == 0.75 and book["Reps"].cell(row=3, column=share + 1).number_format == "0.0%"
    teams = list(book["Teams"].iter_rows(values_only=True))
    assert teams[1][1] == "紫金组" and teams[1][teams[0].index("Leads received")] == 4
    assert teams[1][teams[0].index("p-value")] is None  # too few leads for the test
    appeals = list(book["Appeals"].iter_rows(values_only=True))
    assert [(r[1], r[3], r[6]) for r in appeals[1:]] == [(1, "李明", "Open"), (2, "王芳", "Upheld"),
                                                         (3, "王芳", "Reassigned")]


def test_html_is_self_contained_with_the_chart_in_the_locale(report: FairnessReport) -> None:
    zh = export.to_html(report, "zh-CN")
    assert '<html lang="zh-CN">' in zh and "2026-03 分配公平性公示" in zh
    assert "<svg" in zh and "赵磊" in zh and "无决策记录：平均份额" in zh
    assert "<link" not in zh and "<script" not in zh and "src=" not in zh
    en = export.to_html(report, "en")
    assert "Fairness report for 2026-03" in en and "score ≥ 80" in en and "version 3" in en


def test_pdf_text_has_the_chinese_names(report: FairnessReport, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(export.to_pdf(report, "zh-CN"))
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for name in ("王芳", "李明", "赵磊", "紫金组", "分配公平性公示"):
        assert name in text


def test_export_names_the_file(report: FairnessReport) -> None:
    file = export.export(report, "xlsx", "en", team_id=3)
    assert file.filename == "fairness-2026-03-team-3.xlsx" and file.media_type.startswith("application/vnd.openxml")


def test_chart_bars_are_proportional_and_escaped() -> None:
    svg = actual_vs_expected([Bars("<甲>", 10, 5.0), Bars("乙", 0, 5.0)], title="t", actual_label="a",
                             expected_label="e", width=480)
    assert "&lt;甲&gt;" in svg and "<甲>" not in svg
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)"', svg)]
    legend, bars = widths[:2], widths[2:]  # then received and expected per rep
    assert legend == [12, 12]
    assert bars[0] == pytest.approx(2 * bars[1]) and bars[1] == bars[3] and bars[2] == 0  # 10 is twice 5
