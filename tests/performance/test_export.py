"""The scorecard exports parse back: openpyxl reads the ranking's figures, every metric and the blocks; the PDF has
pages with the Chinese names, the blocks and the flag's reason in its text."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from evenhand.performance import export, patterns
from evenhand.performance.ranking import Ranking
from tests.performance.cards import department

TIERS = {"gold": {"zh-CN": "金牌", "en": "Gold"}, "silver": {"zh-CN": "银牌", "en": "Silver"}}


def ranking() -> Ranking:
    cards = sorted(department(), key=lambda c: -(c.total or 0))
    return Ranking("2026-Q3", cards, {f.user_id: f for f in patterns.find(cards)}, {"key_accounts": "大客户部"}, TIERS)


def test_xlsx_has_the_ranking_the_metrics_and_the_blocks() -> None:
    shown = ranking()
    book = load_workbook(io.BytesIO(export.to_xlsx(shown, "zh-CN")))
    assert book.sheetnames == ["排名", "指标", "考核卡"]
    rows = list(book["排名"].iter_rows(values_only=True))
    header = rows[0]
    assert header[:3] == ("排名", "销售代表", "团队")
    assert [r[0] for r in rows[1:]] == list(range(1, 11))
    assert [r[1] for r in rows[1:]] == [c.name for c in shown.cards]
    first = dict(zip(header, rows[1], strict=True))
    assert first["总分"] == round(shown.cards[0].total or 0, 1) and first["部门"] == "大客户部"
    flagged = {r[1]: r[header.index("高业绩低质量")] for r in rows[1:]}
    assert "平均折扣 22.5%" in flagged["杨杰"] and flagged["张伟"] is None
    gated = dict(zip(header, next(r for r in rows if r[1] == "张伟"), strict=True))
    assert (gated["总分"], gated["封顶原因"]) == (70, "续约率")
    metrics = list(book["指标"].iter_rows(values_only=True))
    renewal = next(r for r in metrics if r[0] == "张伟" and r[1] == "续约率")
    assert renewal[3:8] == (40, 80, 30, 20, 15)
    blocks = list(book["考核卡"].iter_rows(values_only=True))
    assert blocks[1][1].startswith(f"{shown.cards[0].name} | 大客户部 | Q3考核得分:")
    assert blocks[1][2].startswith("回款达成率:")


def test_xlsx_in_english_and_the_file_name() -> None:
    book = load_workbook(io.BytesIO(export.to_xlsx(ranking(), "en")))
    assert book.sheetnames == ["Ranking", "Metrics", "Blocks"]
    assert next(book["Ranking"].iter_rows(values_only=True))[:2] == ("Rank", "Rep")
    assert export.export(ranking(), "xlsx", "en", team_id=3).filename == "scorecards-2026-Q3-team-3.xlsx"


def test_pdf_text_has_the_blocks_and_the_chinese_names(tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pdf = tmp_path / "scorecards.pdf"
    pdf.write_bytes(export.to_pdf(ranking(), "zh-CN"))
    assert pdf.read_bytes().startswith(b"%PDF")
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert int(next(line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:"))) >= 1
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for expected in ("2026-Q3 绩效考核", "团队排名", "杨杰", "王军", "张伟 | 大客户部 | Q3考核得分:70.0", "回款达成率:",
                     "续约率 50%，低于 60% 的底线"):
        assert expected in text


def test_html_escapes_what_people_typed() -> None:
    shown = ranking()
    odd = shown.cards[0].__class__(**{**{n: getattr(shown.cards[0], n) for n in shown.cards[0].__dataclass_fields__},
                                      "name": "<b>张</b>"})
    html = export.to_html(Ranking("2026-Q3", [odd], {}, {}, {}), "en")
    assert "&lt;b&gt;张&lt;/b&gt;" in html and "<b>张</b>" not in html
