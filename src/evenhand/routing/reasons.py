"""Verdict codes: why a rep did or did not get a lead, in words a rep reads ("why not me").

Codes are stable identifiers stored in decision records; the messages are English source text for
``t()`` and take their placeholders from the verdict's ``params``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evenhand.i18n import N_
from evenhand.routing.values import Verdict

CHOSEN = "chosen"
REASONS: dict[str, str] = {
    CHOSEN: N_("Received the lead."),
    "not_in_pool": N_("Not a member of this pool: {criterion} does not match."),
    "no_key_account_grant": N_("This pool takes only reps who hold the key-account grant."),
    "departed": N_("Left the company on {left_on}."),
    "inactive": N_("The account is inactive."),
    "on_leave": N_("On leave from {from} to {to}."),
    "offline": N_("Offline."),
    "away": N_("Away."),
    "outside_working_hours": N_("Outside working hours ({local_time}, {timezone})."),
    "at_open_capacity": N_("Already holds {count} open leads (limit {cap})."),
    "at_daily_cap": N_("Already received {count} leads today (limit {cap})."),
    "at_weekly_cap": N_("Already received {count} leads this week (limit {cap})."),
    "at_high_value_daily_cap": N_("Already received {count} high-value leads today (limit {cap})."),
    "at_high_value_weekly_cap": N_("Already received {count} high-value leads this week (limit {cap})."),
    "not_this_turn": N_("Available, but another rep was next in the rotation."),
    "lower_weight": N_("Available, but another rep was due first under the weighted shares."),
    "appealed": N_("Appealed this lead, so it was routed again without them."),
    "previous_owner": N_("The lead was taken from this rep."),
    "not_named": N_("Available, but a supervisor named another rep."),
}
# The chosen verdict of a manual assignment (``params["named"]``), and what the supervisor overrode.
NAMED = N_("Named by a supervisor.")
NAMED_OVERRIDING = N_("Named by a supervisor, overriding: {overrides}")
# Why a lead was held (``Decision.reason``).
HOLD_REASONS: dict[str, str] = {
    "nobody_available": N_("Nobody in the pool could take the lead; it waits in the holding queue."),
    "pool_has_no_members": N_("The pool has no members; the lead waits in the holding queue."),
}
# Codes that mean "was available, simply not picked": the rep counts towards the expected share.
# ``not_named`` is left out: on a manual decision the policy meant the lead for the named rep alone.
PASSED_OVER = frozenset({CHOSEN, "not_this_turn", "lower_weight"})


def explain(verdict: Verdict, translate: Callable[[str], str] = lambda s: s) -> str:
    """The verdict in words (``translate`` is ``t`` or a page's ``tr``); unknown codes show as themselves."""
    if verdict.code == CHOSEN and verdict.params.get("named"):
        overridden = [explain(Verdict(verdict.rep_id, o["code"], o.get("params") or {}), translate)
                      for o in verdict.params.get("overrides") or ()]
        return translate(NAMED_OVERRIDING).format(overrides=" ".join(overridden)) if overridden else translate(NAMED)
    template = REASONS.get(verdict.code)
    if template is None:
        return verdict.code
    return translate(template).format(**{k: v for k, v in verdict.params.items()})


MATCHED_FIELDS = (("region", N_("region")), ("product_line", N_("product line")), ("industry", N_("industry")))
NO_MEMBER_MATCHES = N_("Nobody in pool {pool} matches this lead ({facts}); it waits in the holding queue.")


def explain_hold(record: dict[str, Any], pool: str, translate: Callable[[str], str] = lambda s: s) -> str | None:
    """Why a held decision (its recorded form) placed nobody, naming the pool and, when the pool has no member
    for the lead, the lead's values that membership matches on: "nobody in pool 华东 matches this lead (region:
    west)". None for a decision that placed someone."""
    reason, lead = record.get("reason"), record.get("lead") or {}
    facts = [f"{translate(label)}: {lead[name]}" for name, label in MATCHED_FIELDS if lead.get(name)]
    if reason == "pool_has_no_members" and facts:
        return translate(NO_MEMBER_MATCHES).format(pool=pool, facts=", ".join(facts))
    template = HOLD_REASONS.get(reason or "")
    return None if template is None else translate(template)
