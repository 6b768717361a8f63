"""The scorecard templates as a versioned document: one active version, each save a new numbered version with its
author, note and diff in the audit log. A frozen scorecard keeps the version it was scored under."""

from __future__ import annotations

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.i18n import N_
from evenhand.kit import versions as versions_kit
from evenhand.models import ScorecardTemplateVersion
from evenhand.performance.template import MESSAGES, TemplateError, Templates, default_text, parse

TEMPLATES: versions_kit.Document[ScorecardTemplateVersion, Templates] = versions_kit.Document(
    ScorecardTemplateVersion, compile=parse, error=TemplateError, messages=MESSAGES,
    wrong=N_("The scorecard templates are wrong at {where} (line {line}): {problem}"),
    missing=N_("No scorecard templates version {version}."), default_text=default_text,
    default_note="the default scorecard templates shipped with evenhand", name_of=lambda doc: doc.name,
    saved_action="performance.templates_saved")


def active(session: Session) -> tuple[int, Templates]:
    """The active version's number and its templates; a new database gets the shipped default as version 1."""
    row = TEMPLATES.active(session)
    return row.version, TEMPLATES.compiled(row.body)


def save(session: Session, body: str, *, author: Principal | None, note: str = "") -> ScorecardTemplateVersion:
    """Validate, store as the next active version; the audit entry carries the diff. Closed periods keep the
    version their cards were scored under; live cards follow the new one at once."""
    return TEMPLATES.save(session, body, author_id=author.user_id if author else None, note=note)
