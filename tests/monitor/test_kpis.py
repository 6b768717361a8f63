"""The KPI definitions document: the shipped KPIs, every problem named with its path and line (an unknown source,
column, dimension or upstream KPI above all), its endpoints and its commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.models import AuditEntry
from evenhand.monitor.kpis import KPIS, KpiDefinitionsError, compile, default_text, parse
from tests.builders import Org
from tests.support import Run

ONE = """\
name: x
kpis:
  - id: conversion
    name: {{en: Conversion, zh: 转化率}}
    source: leads
    kind: rate
    numerator: converted
    good: up
    unit: share
{extra}"""


def problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(KpiDefinitionsError) as caught:
        parse(text)
    return [(p.path, p.line, p.type) for p in caught.value.problems]


def test_the_shipped_kpis() -> None:
    kpis = compile(parse(default_text()))
    assert [k.id for k in kpis.kpis] == [
        "lead_volume", "lead_conversion", "first_response_mean", "first_response_p50", "first_response_p90",
        "notification_delivery", "notification_ack", "lead_score_mean", "appeal_rate", "alert_count",
        "stage_cycle_days", "standard_compliance"]
    conversion = kpis.get("lead_conversion")
    assert conversion is not None and conversion.horizon_days == 21 and conversion.alert_below == 0.08
    assert conversion.upstream == ("first_response_mean", "lead_score_mean")
    assert conversion.dimensions == ("channel", "region", "team", "product_line", "client")
    assert conversion.label("zh-CN") == "线索转化率" and conversion.label("en") == "Lead conversion"
    mean = kpis.get("first_response_mean")
    assert mean is not None and (mean.alert_above, mean.good, mean.unit) == (4, "down", "hours")
    assert mean.upstream == ("notification_delivery", "notification_ack")
    assert kpis.sources == ("leads", "notifications", "decisions", "alerts", "stage_exits", "compliance")
    assert kpis.get("nope") is None


@pytest.mark.parametrize(("extra", "path", "line", "kind"), [
    ("    dimensions: [channel, colour]\n", "kpis.0.dimensions.1", 10, "unknown_dimension"),
    ("    where: {colour: [red]}\n", "kpis.0.where.colour", 10, "unknown_dimension"),
    ("    upstream: [response]\n", "kpis.0.upstream.0", 10, "unknown_upstream"),
    ("    upstream: [conversion]\n", "kpis.0.upstream.0", 10, "self_upstream"),
    ("    measure: score\n", "kpis.0.measure", 10, "not_for_kind"),
    ("    dimensions: [team, team]\n", "kpis.0.dimensions.1", 10, "duplicate_dimension"),
    ("    alert: {above: 0.1, below: 0.2}\n", "kpis.0.alert.above", 10, "alert_order"),
    ("    colour: red\n", "kpis.0.colour", 10, "extra_forbidden"),
])
def test_a_problem_names_its_path_and_line(extra: str, path: str, line: int, kind: str) -> None:
    assert problems(ONE.format(extra=extra)) == [(path, line, kind)]


def test_what_a_kpi_names_must_be_its_sources() -> None:
    text = ONE.format(extra="")
    assert problems(text.replace("source: leads", "source: orders")) == [("kpis.0.source", 5, "unknown_source")]
    assert problems(text.replace("numerator: converted", "numerator: delivered")) == [
        ("kpis.0.numerator", 7, "unknown_boolean")]
    assert problems(text.replace("numerator: converted", "numerator: responded\n    horizon_days: 3").replace(
        "source: leads", "source: compliance").replace("responded", "met")) == [
        ("kpis.0.horizon_days", 8, "no_event_day")]
    mean = text.replace("kind: rate\n    numerator: converted", "kind: mean\n    measure: first_response_days")
    assert problems(mean) == [("kpis.0.measure", 7, "unknown_measure")]
    assert problems(mean.replace("kind: mean", "kind: quantile")) == [("kpis.0.kind", 6, "needs_q")]
    assert problems(text.replace("    numerator: converted\n", "")) == [("kpis.0.kind", 6, "needs_numerator")]
    twice = text + text[text.index("  - id"):]
    assert problems(twice) == [("kpis.1.id", 10, "duplicate_kpi")]


def test_the_document_refused_as_one_invalid_naming_every_problem() -> None:
    with pytest.raises(Invalid) as caught:
        KPIS.validate(ONE.format(extra="    dimensions: [colour]\n") + "  - id: BAD\n")
    assert caught.value.field == "kpis.0.dimensions.0"
    assert [(d["field"], d["line"]) for d in caught.value.details or []] == [
        ("kpis.0.dimensions.0", 10), ("kpis.1.id", 11), ("kpis.1.name", 11), ("kpis.1.source", 11),
        ("kpis.1.kind", 11), ("kpis.1.good", 11), ("kpis.1.unit", 11)]
    assert "colour" in caught.value.details[0]["message"]  # type: ignore[index]


def test_the_definitions_endpoints(client: TestClient, org: Org, engine: object) -> None:
    active = client.get("/api/v1/monitor/kpis/definitions", headers=org.headers("rep_n1"))
    assert active.status_code == 200 and active.json()["version"] == 1 and "lead_conversion" in active.json()["body"]
    wrong = ONE.format(extra="    dimensions: [colour]\n")
    checked = client.post("/api/v1/monitor/kpis/definitions/validate", json={"body": wrong},
                          headers=org.headers("ops")).json()
    assert not checked["valid"] and checked["problems"][0]["field"] == "kpis.0.dimensions.0"
    assert checked["problems"][0]["line"] == 10
    assert client.put("/api/v1/monitor/kpis/definitions", json={"body": ONE.format(extra="")},
                      headers=org.headers("rep_n1")).status_code == 403
    refused = client.put("/api/v1/monitor/kpis/definitions", json={"body": wrong}, headers=org.headers("ops"))
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "kpis.0.dimensions.0"
    saved = client.put("/api/v1/monitor/kpis/definitions", json={"body": ONE.format(extra=""), "note": "一个"},
                       headers=org.headers("ops"))
    assert saved.status_code == 200 and saved.json()["version"] == 2
    versions = client.get("/api/v1/monitor/kpis/definitions/versions", headers=org.headers("ops")).json()
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    first = client.get("/api/v1/monitor/kpis/definitions/versions/1", headers=org.headers("ops")).json()
    assert first["body"] == default_text()
    with session_scope(engine) as session:  # type: ignore[arg-type]
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "monitor.kpis_saved"))
    assert entry is not None and "-  - id: lead_volume" in entry.payload["diff"]


def test_the_definitions_commands(run: Run, tmp_path: Path) -> None:
    shown = run("monitor", "definitions", "show")
    assert shown.exit_code == 0 and shown.stdout == default_text()
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(ONE.format(extra="    upstream: [response]\n"), encoding="utf-8")
    refused = run("monitor", "definitions", "set", str(wrong))
    assert refused.exit_code == 1 and "kpis.0.upstream.0" in refused.output and "line 10" in refused.output
    good = tmp_path / "good.yaml"
    good.write_text(ONE.format(extra=""), encoding="utf-8")
    assert run("monitor", "definitions", "set", str(good), "--note", "one KPI").exit_code == 0
    assert run("monitor", "definitions", "show").stdout == ONE.format(extra="")
