"""Fair lead routing (R1.2–R1.5): a YAML policy, a pure decision engine whose every decision replays
from its record, and the fairness maths for the monthly report and what-if replay.
No database, no web framework in here."""

from evenhand.routing.document import PolicyError, Problem
from evenhand.routing.engine import (
           Escalation,
           PolicyMismatch,
           PoolMatch,
           decide,
           escalate_due,
           escalation,
           replay,
           select_pool,
)
from evenhand.routing.policy import CompiledPolicy, RoutingPolicy, compile, load_default, parse
from evenhand.routing.reasons import REASONS, explain
from evenhand.routing.values import SCALE, Decision, LeadSnapshot, PoolCheck, PoolState, RepState, Verdict, Weight

__all__ = ["REASONS", "SCALE", "CompiledPolicy", "Decision", "Escalation", "LeadSnapshot", "PolicyError",
           "PolicyMismatch", "PoolCheck", "PoolMatch", "PoolState", "Problem", "RepState", "RoutingPolicy", "Verdict",
           "Weight", "compile", "decide", "escalate_due", "escalation", "explain", "load_default", "parse", "replay",
           "select_pool"]
