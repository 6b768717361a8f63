"""Display labels for enum values, marked for translation in one place."""

from __future__ import annotations

from enum import Enum

from evenhand.i18n import N_
from evenhand.models import LeadStatus, Level, Presence, Role

LABELS: dict[Enum, str] = {
    Role.ADMIN: N_("Admin"), Role.OPS: N_("Sales ops"), Role.SUPERVISOR: N_("Supervisor"), Role.REP: N_("Rep"),
    Role.AUDITOR: N_("Auditor"),
    Level.JUNIOR: N_("Junior"), Level.SENIOR: N_("Senior"),
    Presence.ONLINE: N_("Online"), Presence.AWAY: N_("Away"), Presence.OFFLINE: N_("Offline"),
    LeadStatus.NEW: N_("New"), LeadStatus.ASSIGNED: N_("Assigned"), LeadStatus.CONTACTED: N_("Contacted"),
    LeadStatus.QUALIFIED: N_("Qualified"), LeadStatus.CONVERTED: N_("Converted"),
    LeadStatus.DISQUALIFIED: N_("Disqualified"),
}


def label(value: Enum) -> str:
    """The untranslated label; pass it through the page's translator."""
    return LABELS.get(value, str(value.value))
