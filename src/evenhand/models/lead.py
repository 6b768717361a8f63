"""Leads and the behaviour trail that scoring reads."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin, index_where_set, str_enum


class LeadStatus(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


class EventKind(enum.StrEnum):
    PAGE_VIEW = "page_view"
    WHITEPAPER_DOWNLOAD = "whitepaper_download"
    WEBINAR = "webinar"
    FORM_SUBMIT = "form_submit"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"


class Lead(IdMixin, CreatedMixin, Base):
    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        # routing's per-rep counts, each read from its index alone: open leads, and leads this week and today
        index_where_set("ix_leads_owner_status", "owner_id", "status"),
        index_where_set("ix_leads_owner_assigned", "owner_id", "assigned_at", "score"),
        index_where_set("ix_leads_assigned_at", "assigned_at"),
        index_where_set("ix_leads_email_key", "email_key"),
        index_where_set("ix_leads_phone_key", "phone_key"),
        index_where_set("ix_leads_duplicate_of_id", "duplicate_of_id"),
    )
    # No index of their own on the source (the unique index starts with it) or on the raw e-mail and phone (duplicates
    # are sought by their keys): each index is written by every lead taken in. Those on a column a new lead may leave
    # empty (its owner until routed, a contact key, its duplicate link) hold only the rows that have it.
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    company: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str | None] = mapped_column(String(100))
    industry: Mapped[str | None] = mapped_column(String(60))
    region: Mapped[str | None] = mapped_column(String(32), index=True)
    company_size: Mapped[int | None]
    product_line_id: Mapped[int | None] = mapped_column(ForeignKey("product_lines.id", ondelete="SET NULL"))
    status: Mapped[LeadStatus] = mapped_column(str_enum(LeadStatus), default=LeadStatus.NEW, index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    score: Mapped[int | None]
    score_model_version: Mapped[int | None]
    # The explanation: the score's points per column of its model version (float32, little-endian).
    score_points: Mapped[bytes | None] = mapped_column(LargeBinary)
    score_probability: Mapped[float | None]
    scored_at: Mapped[datetime | None]
    # Normalised contact keys for duplicate detection; a duplicate is linked, never merged away.
    email_key: Mapped[str | None] = mapped_column(String(200))
    phone_key: Mapped[str | None] = mapped_column(String(40))
    company_key: Mapped[str | None] = mapped_column(String(200), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    # Behaviour aggregates, kept current as events arrive.
    page_views: Mapped[int] = mapped_column(default=0, server_default="0")
    dwell_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    downloads: Mapped[int] = mapped_column(default=0, server_default="0")
    webinars: Mapped[int] = mapped_column(default=0, server_default="0")
    forms: Mapped[int] = mapped_column(default=0, server_default="0")
    email_opens: Mapped[int] = mapped_column(default=0, server_default="0")
    email_clicks: Mapped[int] = mapped_column(default=0, server_default="0")
    last_event_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    # Taken in from a company's history (an import with ``--history``): its outcome may already be known, so it
    # was never routed, no decision was recorded and nobody was notified.
    backfilled: Mapped[bool] = mapped_column(default=False, server_default=false())
    first_response_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # when its outcome (converted or disqualified) was recorded
    disqualify_reason: Mapped[str | None] = mapped_column(String(200))
    # A converted lead's customer; the deal it became points back at it (``Opportunity.lead_id``).
    converted_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class BehaviourEvent(IdMixin, Base):
    __tablename__ = "behaviour_events"
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EventKind] = mapped_column(str_enum(EventKind))
    occurred_at: Mapped[datetime]
    dwell_seconds: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(String(300))
