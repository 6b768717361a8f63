"""The organisation's dimensions on an incoming lead: a region arrives by its code or by its name (what a web
form sends: 华东) and is stored as the code; anything else is refused, naming the field and the regions there
are. A company that has defined no regions takes the value as it comes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evenhand.i18n import N_, t
from evenhand.kit.rows import RowError
from evenhand.leads.schemas import LeadCreate, LeadImport

UNKNOWN_REGION = N_("Unknown region {value}; the regions are {allowed}.")
UNKNOWN_OWNER = N_("Nobody here has the external id, e-mail or username {value}; import the organisation first "
                   "(evenhand import org).")


@dataclass(frozen=True)
class Regions:
    names: Mapping[str, str]  # code → name

    def code(self, value: str) -> str | None:
        """The code ``value`` names, by code (any case) or by name; None if it names none."""
        wanted = value.strip().casefold()
        return next((code for code, name in self.names.items()
                     if wanted in (code.casefold(), name.strip().casefold())), None)

    def allowed(self) -> str:
        return ", ".join(f"{code} ({name})" for code, name in sorted(self.names.items()))


def resolve(rows: Sequence[LeadCreate | None], regions: Regions, *,
            first_row: int) -> tuple[list[LeadCreate | None], list[RowError]]:
    """Each row's region as its code; a row naming no region there is refused (None) with its error."""
    out: list[LeadCreate | None] = []
    errors: list[RowError] = []
    for offset, row in enumerate(rows):
        if row is None or row.region is None or not regions.names:
            out.append(row)
            continue
        code = regions.code(row.region)
        if code is None:
            out.append(None)
            errors.append(RowError(first_row + offset, "region",
                                   t(UNKNOWN_REGION, value=row.region, allowed=regions.allowed())))
        else:
            out.append(row if code == row.region else row.model_copy(update={"region": code}))
    return out, errors


def owners(rows: Sequence[LeadCreate | None], found: Mapping[str, int], *,
           first_row: int) -> tuple[list[LeadCreate | None], list[RowError]]:
    """Each exported row's rep (``owner``: an external id, e-mail or username; ``found`` maps those known to
    user ids) as ``owner_id``; a row naming nobody known is refused (None) with its error."""
    out: list[LeadCreate | None] = []
    errors: list[RowError] = []
    for offset, row in enumerate(rows):
        if not isinstance(row, LeadImport) or row.owner is None:
            out.append(row)
        elif (user_id := found.get(row.owner)) is None:
            out.append(None)
            errors.append(RowError(first_row + offset, "owner", t(UNKNOWN_OWNER, value=row.owner)))
        else:
            out.append(row.model_copy(update={"owner_id": user_id}))
    return out, errors
