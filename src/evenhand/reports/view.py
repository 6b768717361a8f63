"""The fairness report in words and formatted figures, shared by the page and every export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evenhand.i18n import N_
from evenhand.kit.figures import p_value
from evenhand.reports.charts import Bars, actual_vs_expected
from evenhand.reports.monthly import APPEAL_STATUSES, FairnessReport, RepLine, TeamReport

Tr = Callable[..., str]

# (key, header): the rep table, in the order every format shows it.
REP_COLUMNS = (
    ("rep", N_("Rep")), ("leads", N_("Leads received")), ("high_value", N_("High-value leads")),
    ("high_value_share", N_("Share of the team's high-value leads")), ("won", N_("Won")),
    ("conversion_rate", N_("Conversion rate")), ("expected", N_("Expected leads")),
    ("expected_share", N_("Expected share")), ("actual_share", N_("Actual share")),
    ("gap", N_("Actual − expected (points)")), ("evidence", N_("Measured against")),
)
EVIDENCE = {
    "routing": N_("the routing decisions"),
    "equal_share": N_("no routing evidence: measured against an equal share"),
    "mixed": N_("routing decisions, and an equal share for leads handed out without one"),
    "none": N_("no leads this month"),
}
# The rep table's short form; the team's note and facts say it in full.
EVIDENCE_SHORT = {
    "routing": N_("Routing decisions"),
    "equal_share": N_("No routing evidence: equal share"),
    "mixed": N_("Routing decisions and equal share"),
    "none": "—",
}
APPEAL_LABELS = {"open": N_("Open"), "upheld": N_("Upheld"), "rescored": N_("Re-scored and re-routed"),
                 "reassigned": N_("Reassigned"), "withdrawn": N_("Withdrawn")}
VERDICTS = {
    "too_few": N_("Too few leads for a chi-square test."),
    "differs": N_("The distribution differs from what the policy expects by more than chance explains (p < 0.05)."),
    "consistent": N_("The distribution is consistent with what the policy expects (p ≥ 0.05)."),
}
APPEAL_COLUMNS = (("id", N_("Appeal")), ("filed_at", N_("Filed")), ("appellant", N_("Rep")), ("lead_id", N_("Lead")),
                  ("reason_code", N_("Reason")), ("status", N_("Outcome")), ("decided_at", N_("Decided")))


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def gap(line: RepLine) -> float | None:
    """Actual share minus expected share, in percentage points."""
    if line.actual_share is None or line.expected_share is None:
        return None
    return 100 * (line.actual_share - line.expected_share)


def rep_rows(team: TeamReport, tr: Tr) -> list[dict[str, Any]]:
    out = []
    for line in team.reps:
        points = gap(line)
        out.append({"rep_id": line.rep_id, "rep": line.name, "leads": line.leads, "high_value": line.high_value,
                    "high_value_share": pct(line.high_value_share), "won": line.won,
                    "conversion_rate": pct(line.conversion_rate), "expected": f"{line.expected:.1f}",
                    "expected_share": pct(line.expected_share), "actual_share": pct(line.actual_share),
                    "gap": "—" if points is None else f"{points:+.1f}", "evidence": tr(EVIDENCE_SHORT[line.evidence])})
    return out


def title(report: FairnessReport, tr: Tr) -> str:
    return tr("Fairness report for {month}", month=report.month.label)


def policy_line(report: FairnessReport, tr: Tr) -> str:
    policy = report.policy
    if policy.version is None:
        return tr("High-value lead: score ≥ {threshold}, the threshold of the default routing policy “{name}”.",
                  threshold=policy.threshold, name=policy.name)
    return tr("High-value lead: score ≥ {threshold}, the threshold of routing policy “{name}”, version {version} "
              "(active).", threshold=policy.threshold, name=policy.name, version=policy.version)


def arrivals_line(report: FairnessReport, tr: Tr) -> str:
    """Every lead of the month accounted for, so a month of imported history never reads as an empty month."""
    a = report.arrivals
    return tr("Leads that arrived this month: {arrived}; routed by evenhand {routed}, imported as history "
              "{backfilled}, waiting in the holding queue {held}, never routed {never}.", arrived=a.arrived,
              routed=a.routed, backfilled=a.backfilled, held=a.held, never=a.never_routed)


def method_lines(tr: Tr) -> list[str]:
    return [tr("Expected share: for each routed lead, the share the policy meant each available rep to have "
               "(equal on the round-robin track, by weight on the high-value track), added up over the month."),
            tr("Leads handed out without a routing decision (before routing was switched on) are measured against "
               "an equal share of the team's reps at work that day."),
            tr("Conversion: leads received this month that became deals the rep won, as of the report date.")]


def chi_text(team: TeamReport, tr: Tr) -> str:
    test = team.chi_square
    if test is None:
        return tr(VERDICTS["too_few"])
    text = tr("Chi-square {statistic}, {dof} degrees of freedom, {p}.", statistic=f"{test.statistic:.2f}",
              dof=test.dof, p=p_value(test.p_value))
    if test.merged:
        text += " " + tr("{count} reps with few expected leads were pooled into one group.", count=test.merged)
    return f"{text} {tr(VERDICTS[team.verdict])}"


def team_facts(team: TeamReport, tr: Tr) -> list[tuple[str, str]]:
    appeals = team.appeals
    hours = appeals.median_hours_to_decision
    return [(tr("Leads received"), str(team.leads)), (tr("High-value leads"), str(team.high_value)),
            (tr("Won"), str(team.won)), (tr("Measured against"), tr(EVIDENCE[team.evidence])),
            (tr("Chi-square test"), chi_text(team, tr)),
            (tr("Gini of lead value received"), f"{team.gini:.3f}"),
            (tr("Appeals filed"), str(appeals.filed)),
            (tr("Median time to a ruling"), "—" if hours is None else tr("{hours} h", hours=f"{hours:.1f}"))]


def appeal_counts(team: TeamReport, tr: Tr) -> list[tuple[str, int]]:
    return [(tr(APPEAL_LABELS[status]), team.appeals.by_status.get(status, 0)) for status in APPEAL_STATUSES]


def chart(team: TeamReport, tr: Tr) -> str:
    return actual_vs_expected([Bars(r.name, r.leads, r.expected) for r in team.reps], width=560,
                              title=tr("Leads received and expected per rep"), actual_label=tr("Received"),
                              expected_label=tr("Expected under the policy"))
