"""The mapping file of a lead import: the fields it may name are those of ``LeadImport`` — what an arriving lead
carries, plus its own dates, owner, outcome and behaviour counts (see docs/import.md)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from evenhand.kit import mapping as kit_mapping
from evenhand.kit.mapping import Mapping, check_columns
from evenhand.leads.schemas import MAPPED_FIELDS

LEAD_FIELDS = MAPPED_FIELDS
MOMENTS = frozenset({"created_at", "outcome_at", "first_response_at"})
UTC = ZoneInfo("UTC")

__all__ = ["LEAD_FIELDS", "MOMENTS", "Mapping", "apply", "check_columns", "parse_mapping"]


def parse_mapping(text: str) -> Mapping:
    return kit_mapping.parse(text, known=LEAD_FIELDS, kind="lead")


def apply(mapping: Mapping, row: dict[str, str | None], *, zone: ZoneInfo = UTC) -> dict[str, object]:
    return kit_mapping.apply(mapping, row, zone=zone, moments=MOMENTS)
