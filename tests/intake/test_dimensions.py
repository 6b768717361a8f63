"""A lead's region arrives by code or by name and is stored as the code; an unknown one is refused at every
door, naming the field (or the row) and the regions there are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.intake.dimensions import Regions, resolve
from evenhand.leads.schemas import LeadCreate
from evenhand.models import Lead, Region
from tests.builders import Org
from tests.support import Run, error_of, row_counts


def lead(n: int, region: str | None) -> dict[str, Any]:
    return {"source": "website", "external_id": f"R-{n}", "company": f"区域公司{n}", "region": region}


def regions_of(engine: Engine) -> dict[str, str | None]:
    with session_scope(engine, readonly=True) as session:
        return {lead.external_id: lead.region for lead in session.scalars(select(Lead).where(Lead.source == "website"))}


def test_code_in_any_case_or_name_is_stored_as_the_code() -> None:
    regions = Regions({"EAST": "华东", "south": "South China"})
    rows = [LeadCreate(**lead(n, value)) for n, value in enumerate(["华东", "east", " South China ", None])]
    resolved, errors = resolve(rows, regions, first_row=1)
    assert errors == [] and [r.region for r in resolved if r] == ["EAST", "EAST", "south", None]
    assert resolve(rows, Regions({}), first_row=1)[0] == rows  # no regions defined: taken as they come


def test_the_single_door_takes_a_label_and_refuses_an_unknown_region(client: TestClient, engine: Engine,
                                                                      org: Org) -> None:
    by_label = client.post("/api/v1/leads", json=lead(1, "华东"), headers=org.headers("ops"))
    assert by_label.status_code == 201, by_label.text
    before = row_counts(engine)
    unknown = client.post("/api/v1/leads", json=lead(2, "华西"), headers=org.headers("ops"))
    error = error_of(unknown)
    assert unknown.status_code == 422 and error["field"] == "region"
    assert "华西" in error["message"] and "EAST (华东)" in error["message"]
    assert row_counts(engine) == before  # nothing written, not even an audit entry
    assert regions_of(engine) == {"R-1": "EAST"}


def test_the_batch_names_the_row_and_can_skip_it(client: TestClient, engine: Engine, org: Org) -> None:
    rows = [lead(1, "east"), lead(2, "nowhere"), lead(3, None)]
    refused = client.post("/api/v1/leads/batch", json={"leads": rows}, headers=org.headers("ops"))
    assert refused.status_code == 422 and error_of(refused)["field"] == "leads.1.region"
    kept = client.post("/api/v1/leads/batch", json={"leads": rows, "skip_invalid": True}, headers=org.headers("ops"))
    assert kept.status_code == 200, kept.text
    assert [(r["row"], r["field"]) for r in kept.json()["rejected"]] == [(2, "region")]
    assert regions_of(engine) == {"R-1": "EAST", "R-3": None}


def test_an_imported_file_names_the_spreadsheet_row(run: Run, engine: Engine, org: Org, tmp_path: Path) -> None:
    path, mapping = tmp_path / "leads.csv", tmp_path / "mapping.yaml"
    path.write_text("id,company,region\nR-1,甲公司,华东\nR-2,乙公司,华西\n", encoding="utf-8")
    mapping.write_text("fields:\n  external_id: id\n  company: company\n  region: region\n"
                       "  source: {value: website}\n", encoding="utf-8")
    refused = run("import", "leads", str(path), "--mapping", str(mapping))
    assert refused.exit_code == 1 and "row 3" in refused.output and "华西" in refused.output
    assert regions_of(engine) == {}
    kept = run("import", "leads", str(path), "--mapping", str(mapping), "--skip-invalid")
    assert kept.exit_code == 0, kept.output
    assert regions_of(engine) == {"R-1": "EAST"}


def test_without_regions_any_value_is_taken(client: TestClient, engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        for region in session.scalars(select(Region)):
            session.delete(region)
    response = client.post("/api/v1/leads", json=lead(1, "华西"), headers=org.headers("ops"))
    assert response.status_code == 201, response.text
    assert regions_of(engine) == {"R-1": "华西"}
