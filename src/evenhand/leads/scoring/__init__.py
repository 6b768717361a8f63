"""Rule-based lead scoring (R1.1): a YAML model, a pure scorer with line-by-line explanations, and a
vectorised rescorer that gives the same totals. No database, no web framework in here."""

from evenhand.leads.scoring.compiled import Column, CompiledModel
from evenhand.leads.scoring.compiler import compile
from evenhand.leads.scoring.explain import explain_text
from evenhand.leads.scoring.rules import Event, LeadFacts, Line, ScoreResult, score
from evenhand.leads.scoring.schema import ScoringModel, ScoringModelError, load_default, parse
from evenhand.leads.scoring.vector import Coded, EventTable, LeadTable, TableScores, score_table

__all__ = ["Coded", "Column", "CompiledModel", "Event", "EventTable", "LeadFacts", "LeadTable", "Line",
           "ScoreResult", "ScoringModel", "ScoringModelError", "TableScores", "compile", "explain_text",
           "load_default", "parse", "score", "score_table"]
