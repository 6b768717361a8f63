"""Importing exports through a mapping file: placeholders, normalisation, row-numbered errors (R1.1)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.i18n import t
from evenhand.intake import flows
from evenhand.leads import mapping as mapping_mod
from evenhand.models import Lead
from tests.support import row_counts

HEADER = ["线索编号", "渠道", "公司名称", "联系人", "邮箱", "手机", "行业", "地区", "员工数"]
MAPPING = """
fields:
  external_id: 线索编号
  source: {column: 渠道, map: {官网: website, 展会: trade_show}}
  company: 公司名称
  contact_name: 联系人
  email: {column: 邮箱, case: lower}
  phone: 手机
  industry: {column: 行业, map: {制造: 制造业}}
  region: 地区
  company_size: 员工数
missing: ["Select", "-", ""]
"""
GOOD = [["A-1", "官网", "华东制造有限公司", "李雷", "LiLei@HD.cn", "13800000001", "制造", "east", "300"],
        ["A-2", "展会", "华南零售集团", "韩梅梅", "-", "Select", "零售", "south", ""]]
BAD = [["A-3", "展会", "Select", "王五", "x@y.cn", "13800000003", "-", "south", "50"],
       ["A-4", "官网", "北方物流", "赵六", "not-an-email", "13800000004", "物流", "north", "many"]]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    return path


def run(engine: Engine, path: Path, *, skip_invalid: bool = False, mapping: str = MAPPING) -> flows.FileReport:
    with session_scope(engine) as session:
        return flows.take_in_file(session, path, mapping, actor=None, dedup=["email", "phone"],
                                  skip_invalid=skip_invalid)


def stored(engine: Engine) -> dict[str, Lead]:
    with session_scope(engine, readonly=True) as session:
        return {lead.external_id: lead for lead in session.scalars(select(Lead))}


def test_placeholders_become_missing_and_values_are_normalised(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, write_csv(tmp_path / "leads.csv", GOOD))
    assert (report.rows, report.created, report.rejected) == (2, 2, [])
    leads = stored(engine)
    assert (leads["A-1"].source, leads["A-1"].industry, leads["A-1"].email) == ("website", "制造业", "lilei@hd.cn")
    assert (leads["A-2"].email, leads["A-2"].phone, leads["A-2"].company_size) == (None, None, None)
    assert leads["A-1"].score is not None and leads["A-1"].score_model_version == 1


def test_one_bad_row_rejects_the_file_naming_spreadsheet_rows(engine: Engine, tmp_path: Path) -> None:
    before = row_counts(engine)
    with pytest.raises(Invalid) as caught:
        run(engine, write_csv(tmp_path / "leads.csv", GOOD + BAD))
    problems = [(d["row"], d["field"].split(".")[-1]) for d in caught.value.details or []]
    assert problems == [(4, "company"), (5, "email"), (5, "company_size")]  # header is row 1
    assert row_counts(engine) == before


def test_skip_invalid_imports_the_rest_and_writes_rejects_with_reasons(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, write_csv(tmp_path / "leads.csv", GOOD + BAD), skip_invalid=True)
    assert (report.created, sorted(report.rejects.rows)) == (2, [4, 5])
    target = tmp_path / "rejects.csv"
    report.rejects.write(target)
    with target.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["row", "field", "problem"] and rows[0][3:] == HEADER
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [("4", "company", "A-3"), ("5", "email", "A-4"),
                                                      ("5", "company_size", "A-4")]


def test_reimport_is_idempotent_and_duplicates_link(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "leads.csv", GOOD)
    run(engine, path)
    again = run(engine, path)
    assert (again.created, again.existing) == (0, 2)
    twin = [["B-9", "官网", "华东制造", "李雷", "lilei@hd.cn", "+86 138 0000 0001", "制造", "east", "300"]]
    report = run(engine, write_csv(tmp_path / "twin.csv", twin))
    assert report.duplicates == 1
    leads = stored(engine)
    assert leads["B-9"].duplicate_of_id == leads["A-1"].id


def test_excel_and_gb18030_exports(engine: Engine, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["X-1", "官网", "上海金融科技", "周杰", "zj@fin.cn", 13900000001, "金融", "east", 1200])
    book.save(tmp_path / "leads.xlsx")
    assert run(engine, tmp_path / "leads.xlsx").created == 1
    gb = [["G-1", "展会", "广州物流有限公司", "陈晨", "cc@gz.cn", "13700000001", "物流", "south", "80"]]
    assert run(engine, write_csv(tmp_path / "gb.csv", gb, encoding="gb18030")).created == 1
    leads = stored(engine)
    assert leads["X-1"].phone == "13900000001" and leads["X-1"].company_size == 1200
    assert leads["G-1"].company == "广州物流有限公司"


@pytest.mark.parametrize(("mapping", "field"), [
    ("fields: {external_id: 线索编号, source: 渠道, company: 不存在的列}", "mapping.fields.company.column"),
    ("fields: {external_id: 线索编号, colour: 渠道}", "mapping.fields.colour"),
    ("fields: [unclosed", "mapping"),
    ("fields: {external_id: {column: 线索编号, value: x}}", "mapping.fields.external_id"),
])
def test_a_bad_mapping_is_refused_before_reading_rows(engine: Engine, tmp_path: Path, mapping: str,
                                                      field: str) -> None:
    with pytest.raises(Invalid) as caught:
        run(engine, write_csv(tmp_path / "leads.csv", GOOD), mapping=mapping)
    assert caught.value.field == field


def test_ragged_rows_and_unknown_file_types(engine: Engine, tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(",".join(HEADER) + "\n" + ",".join(GOOD[0] + ["extra"]) + "\n", encoding="utf-8")
    with pytest.raises(Invalid) as caught:
        run(engine, ragged)
    assert caught.value.params["row"] == 2
    (tmp_path / "leads.json").write_text("[]")
    with pytest.raises(Invalid):
        run(engine, tmp_path / "leads.json")


@pytest.mark.parametrize(("text", "field", "words"), [
    ("fields:\n  company: {column: 公司名称, value: x}\n", "mapping.fields.company", "请给出列名或固定值"),
    ("fields:\n  company: 公司名称\n  colour: 颜色\n", "mapping.fields.colour", "此导入没有的字段：colour"),
    ("fields:\n  company: [\n", "mapping", "不是有效的 YAML"),
    ("a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
     "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", "mapping", "不是有效的 YAML"),
])
def test_a_wrong_mapping_file_is_named_in_the_readers_language(text: str, field: str, words: str) -> None:
    with pytest.raises(Invalid) as caught:
        mapping_mod.parse_mapping(text)
    message = t(caught.value.message, locale="zh-CN", **caught.value.params)
    assert caught.value.field == field and words in message
    assert not any(english in message for english in ("Value error", "give either", "unknown lead field"))
