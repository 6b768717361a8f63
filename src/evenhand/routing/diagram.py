"""The routing policy drawn as a Mermaid flowchart: pools in order with their conditions, membership,
availability, the two tracks, and the holding queue with its escalation.

Every piece of text from the policy goes through ``label``: Mermaid reads ``#<code>;`` as a character,
so quotes, brackets, pipes, ``<``/``>``/``&`` and ``#`` itself are written that way and can neither end
a label nor become markup. Node ids are generated here, never taken from the policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from evenhand.i18n import N_
from evenhand.routing.policy import CompiledPolicy, CompiledPool, Members

Translate = Callable[..., str]
MAX_TEXT = 160
_SPECIAL = frozenset('"\'`<>&#;|[](){}\\')
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_CRITERIA = {"teams": N_("teams"), "departments": N_("departments"), "regions": N_("regions"),
             "product_lines": N_("product lines"), "skills": N_("skills"), "levels": N_("levels"),
             "users": N_("reps")}
_MATCH = {"region": N_("same region as the lead"), "product_line": N_("sells the lead's product line"),
          "industry": N_("knows the lead's industry")}


def label(text: str, limit: int = MAX_TEXT) -> str:
    """Text that is safe inside a quoted Mermaid label: one line, at most ``limit`` characters, specials coded."""
    flat = _CONTROL.sub(" ", text).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return "".join(f"#{ord(ch)};" if ch in _SPECIAL else ch for ch in flat)


def _lines(*parts: str) -> str:
    """Several escaped lines in one label (``<br/>`` is ours, never the policy's)."""
    return "<br/>".join(label(p) for p in parts if p)


def flowchart(compiled: CompiledPolicy, tr: Translate = lambda s, **kw: s.format(**kw)) -> str:
    """Mermaid source for the policy; ``tr`` translates the words evenhand adds (the policy's own text is kept)."""
    yes, no = label(tr("yes")), label(tr("no"))
    out = ["flowchart TD", f'  lead(["{_lines(tr("New lead"), compiled.policy.name)}"])']
    arrow = "  lead -->"  # how the next pool is reached: from the lead, then from the previous condition's "no"
    for i, pool in enumerate(compiled.pools):
        if pool.spec.condition is None:
            out.append(f"{arrow} p{i}")
        else:
            title = tr("Condition of pool {pool}", pool=pool.id)
            out += [f'  c{i}{{"{_lines(title, pool.spec.condition)}"}}', f"{arrow} c{i}", f"  c{i} -->|{yes}| p{i}"]
            arrow = f"  c{i} -->|{no}|"
        out += [f'  p{i}["{_pool_text(pool, compiled, tr)}"]', f"  p{i} --> avail"]
    return "\n".join(out + _tracks(compiled, tr)) + "\n"


def _pool_text(pool: CompiledPool, compiled: CompiledPolicy, tr: Translate) -> str:
    spec = pool.spec
    parts = [f"{spec.label or spec.id} ({spec.id})", _members_text(spec.members, tr)]
    if spec.key_account:
        parts.append(tr("Key-account grant required"))
    if spec.escalate_after_minutes or spec.supervisor:
        minutes = spec.escalate_after_minutes or compiled.policy.holding.escalate_after_minutes
        parts.append(tr("Escalates after {minutes} min to {who}", minutes=minutes,
                        who=spec.supervisor or tr("the team supervisor")))
    return _lines(*parts)


def _members_text(members: Members, tr: Translate) -> str:
    lists = [f"{tr(text)}: {', '.join(values)}" for name, text in _CRITERIA.items()
             if (values := getattr(members, name)) is not None]
    lists += [tr(_MATCH[m]) for m in members.match_lead]
    return tr("Members: {who}", who="; ".join(lists)) if lists else tr("Members: every rep")


def _tracks(compiled: CompiledPolicy, tr: Translate) -> list[str]:
    policy = compiled.policy
    w, avail, hold = policy.weighted, policy.availability, policy.holding
    checks = [tr("active, not departed, not on leave"), tr("online or away") if avail.away_counts else tr("online"),
              *([tr("inside working hours")] if avail.working_hours else []), tr("under open, daily and weekly caps")]
    guard = [tr("junior share at least {share}%", share=round(w.junior_share * 100))] if w.junior_share else []
    guard += [tr("at most {share}% per rep", share=round(w.max_share * 100))] if w.max_share else []
    guard += [tr("at most {n} per rep per day", n=w.max_per_day)] if w.max_per_day else []
    who = hold.supervisor or tr("the team supervisor")
    texts = {
        "avail": _lines(tr("Any member available?"), "; ".join(checks)),
        "track": _lines(tr("Score at least {threshold}?", threshold=policy.threshold_high_value)),
        "rr": _lines(tr("Round robin"), tr("the rep served least recently")),
        "weighted": _lines(tr("Weighted"), tr("shrunk win rate × quota × load"), *guard),
        "hold": _lines(tr("Holding queue"), tr("routed the moment a rep is available")),
        "escalate": _lines(tr("Escalation"), tr("after {minutes} min to {who}", minutes=hold.escalate_after_minutes,
                                                 who=who)),
    }
    yes, no, nobody = label(tr("yes")), label(tr("no")), label(tr("nobody"))
    return [f'  avail{{"{texts["avail"]}"}}', f'  avail -->|{yes}| track{{"{texts["track"]}"}}',
            f'  track -->|{no}| rr["{texts["rr"]}"]', f'  track -->|{yes}| weighted["{texts["weighted"]}"]',
            f'  avail -->|{nobody}| hold["{texts["hold"]}"]', f'  hold --> escalate["{texts["escalate"]}"]']
