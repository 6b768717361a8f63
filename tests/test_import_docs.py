"""docs/import.md names every field a mapping of each kind may name, so the reference never falls behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from evenhand.activities.importer import KIND as ACTIVITIES
from evenhand.intake.flows import LEAD_ROWS
from evenhand.kit.rows import Kind
from evenhand.leads.outcomes import OUTCOME_ROWS
from evenhand.opportunities.customers_import import COMPLAINTS, CONTRACTS, PAYMENTS, SURVEYS
from evenhand.opportunities.importer import ACCOUNTS, OPPORTUNITIES, STAGE_LINES
from evenhand.org.importer import KIND as ORGANISATION

DOC = (Path(__file__).parents[1] / "docs" / "import.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", [ORGANISATION, ACCOUNTS, OPPORTUNITIES, STAGE_LINES, LEAD_ROWS, OUTCOME_ROWS,
                                  ACTIVITIES, *(t.kind for t in (CONTRACTS, PAYMENTS, SURVEYS, COMPLAINTS))],
                         ids=lambda kind: kind.name)
def test_every_mappable_field_is_documented(kind: Kind[object]) -> None:
    assert [name for name in kind.fields if f"`{name}`" not in DOC] == []
