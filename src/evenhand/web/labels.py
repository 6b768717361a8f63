"""Display labels for enum values, marked for translation in one place."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from evenhand.i18n import N_
from evenhand.models import (
    ActivityType,
    AlertStatus,
    Channel,
    Direction,
    EventKind,
    FlagKind,
    FlagStatus,
    LeadStatus,
    Level,
    Presence,
    ReviewStatus,
    Role,
    SourceSystem,
    Stage,
)

# Keyed as working hours name the days.
WEEKDAYS: dict[str, str] = {"mon": N_("Monday"), "tue": N_("Tuesday"), "wed": N_("Wednesday"), "thu": N_("Thursday"),
                            "fri": N_("Friday"), "sat": N_("Saturday"), "sun": N_("Sunday")}

SOURCES: dict[str, str] = {
    "website": N_("Website form"), "baidu_ads": N_("Baidu ads"), "trade_show": N_("Trade show"),
    "partner": N_("Partner"), "referral": N_("Referral"), "webinar": N_("Webinar"), "import": N_("Import"),
}
EVENTS: dict[Enum, str] = {
    EventKind.PAGE_VIEW: N_("Page view"), EventKind.WHITEPAPER_DOWNLOAD: N_("Whitepaper download"),
    EventKind.WEBINAR: N_("Webinar"), EventKind.FORM_SUBMIT: N_("Form submitted"),
    EventKind.EMAIL_OPEN: N_("Email opened"), EventKind.EMAIL_CLICK: N_("Email link clicked"),
}
# What the predictive model reads of a lead at intake (leads.predict.repository); a model trained on a
# file may read other columns, which show under their own names.
FEATURES: dict[str, str] = {
    "source": N_("Source"), "industry": N_("Industry"), "region": N_("Region"), "title": N_("Title"),
    "company_size": N_("Employees"), "page_views": N_("Page views"), "dwell_seconds": N_("Seconds on the site"),
    "downloads": N_("Whitepaper downloads"), "webinars": N_("Webinars attended"), "forms": N_("Forms submitted"),
    "email_opens": N_("Emails opened"), "email_clicks": N_("Email links clicked"),
}
# One table per enum: string enums of different kinds share values ("email", "wecom"), so they are keyed by kind.
_TABLES: tuple[dict[Any, str], ...] = (
    EVENTS,
    {Role.ADMIN: N_("Admin"), Role.OPS: N_("Sales ops"), Role.SUPERVISOR: N_("Supervisor"), Role.REP: N_("Rep"),
     Role.AUDITOR: N_("Auditor")},
    {Level.JUNIOR: N_("Junior"), Level.SENIOR: N_("Senior")},
    {Presence.ONLINE: N_("Online"), Presence.AWAY: N_("Away"), Presence.OFFLINE: N_("Offline")},
    {LeadStatus.NEW: N_("New"), LeadStatus.ASSIGNED: N_("Assigned"), LeadStatus.CONTACTED: N_("Contacted"),
     LeadStatus.QUALIFIED: N_("Qualified"), LeadStatus.CONVERTED: N_("Converted"),
     LeadStatus.DISQUALIFIED: N_("Disqualified")},
    {Channel.SMS: N_("SMS"), Channel.EMAIL: N_("E-mail"), Channel.DINGTALK: N_("DingTalk robot"),
     Channel.WECOM: N_("WeCom robot"), Channel.WEBHOOK: N_("Webhook"), Channel.IN_APP: N_("In-app inbox"),
     Channel.APP_PUSH: N_("App push")},
    {ActivityType.CALL: N_("Call"), ActivityType.EMAIL: N_("E-mail"), ActivityType.MESSAGE: N_("Message"),
     ActivityType.MEETING: N_("Meeting"), ActivityType.VISIT: N_("Visit"), ActivityType.NOTE: N_("CRM note")},
    {Direction.INBOUND: N_("Inbound"), Direction.OUTBOUND: N_("Outbound"), Direction.INTERNAL: N_("Internal")},
    {SourceSystem.WECOM: N_("WeCom"), SourceSystem.DINGTALK: N_("DingTalk"), SourceSystem.OUTLOOK: N_("Outlook"),
     SourceSystem.TELEPHONY: N_("Telephony"), SourceSystem.CRM: N_("CRM")},
    {Stage.QUALIFICATION: N_("Qualification"), Stage.NEEDS_ANALYSIS: N_("Needs analysis"),
     Stage.PROPOSAL: N_("Proposal"), Stage.NEGOTIATION: N_("Negotiation"), Stage.WON: N_("Won"),
     Stage.LOST: N_("Lost")},
    {FlagKind.UNBACKED: N_("Unbacked note"), FlagKind.DUPLICATE: N_("Near-duplicate note")},
    {FlagStatus.OPEN: N_("Open"), FlagStatus.CONFIRMED: N_("Confirmed"), FlagStatus.DISMISSED: N_("Dismissed")},
    {AlertStatus.OPEN: N_("Open"), AlertStatus.ACKNOWLEDGED: N_("Acknowledged"), AlertStatus.SNOOZED: N_("Snoozed"),
     AlertStatus.RESOLVED: N_("Resolved")},
    {ReviewStatus.PENDING: N_("To review"), ReviewStatus.REVIEWED: N_("Reviewed"),
     ReviewStatus.ACKNOWLEDGED: N_("Acknowledged")},
)
LABELS: dict[tuple[type[Enum], Any], str] = {(type(member), member.value): text for table in _TABLES
                                             for member, text in table.items()}
# Notification message kinds (``Notification.kind``): a string, since each domain adds its own.
MESSAGE_KINDS: dict[str, str] = {
    "lead_assigned": N_("New lead"), "escalation": N_("Not acknowledged"), "alert": N_("Alert"),
    "notify_health": N_("Notification health"), "lead_reassigned": N_("Lead reassigned"),
    "appeal_filed": N_("Appeal filed"), "appeal_ruled": N_("Appeal ruled"), "appeal_withdrawn": N_("Appeal withdrawn"),
    "fairness_report": N_("Fairness report"), "follow_up_due": N_("Follow-up due"),
    "honesty_flags": N_("Notes to review"), "qa_feedback": N_("Call QA feedback"),
    "performance_grant": N_("Grant earned"), "performance_revoke": N_("Grant withdrawn"),
    "peer_review_due": N_("Peer reviews to write"), "kpi_anomaly": N_("KPI anomaly"),
}


def source_label(code: str) -> str:
    """Known channel codes get a readable name; anything else shows as sent."""
    return SOURCES.get(code, code)


def feature_text(feature: str, value: str | None, tr: Callable[..., str]) -> str:
    """One input of the predictive model as a reader sees it: "Source: Trade show", "Page views: 3"."""
    shown = "—" if value is None else tr(source_label(value)) if feature == "source" else value
    return tr("{feature}: {value}", feature=tr(FEATURES.get(feature, feature)), value=shown)


def message_kind_label(kind: str) -> str:
    """The untranslated name of a message kind; an unknown kind shows as stored."""
    return MESSAGE_KINDS.get(kind, kind)


def label(value: Enum) -> str:
    """The untranslated label; pass it through the page's translator."""
    return LABELS.get((type(value), value.value), str(value.value))
