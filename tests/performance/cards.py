"""Hand-built scorecards: seniors of one department over a quarter, scored by the shipped templates."""

from __future__ import annotations

from evenhand.models import Level
from evenhand.performance import scoring, template
from evenhand.performance.metrics import Measure
from evenhand.performance.template import RepFacts
from evenhand.performance.views import CardView

DOC = template.parse(template.default_text())
QUOTA = 500_000.0


def card(user_id: int, name: str, *, revenue: float, discount: float, renewal: float, csat: float = 4.4,
         department: str = "key_accounts", level: Level = Level.SENIOR, period: str = "2026-Q3") -> CardView:
    """A senior of key accounts over a quarter, with enough data for every figure."""
    measures = {"cash_collected": Measure(revenue * 0.8, 10), "revenue": Measure(revenue, 10),
                "discount": Measure(discount, 10), "renewal_rate": Measure(renewal, 8), "csat": Measure(csat, 10),
                "nps": Measure(30, 10), "complaints": Measure(0, 0), "proposal_rate": Measure(70, 10),
                "compliance": Measure(92, 20)}
    rep = RepFacts(user_id, level, department, "south", frozenset(), QUOTA)
    scored = scoring.score(DOC, rep, measures, months=3)
    return CardView(user_id, name, 1, "华南组", department, level, period, 0, False, scored.template,
                    {"zh-CN": "大客户部", "en": "Key accounts"}, scored.total, scored.coverage, scored.gate,
                    scored.tier, list(scored.metrics))


def department() -> list[CardView]:
    return [card(1, "杨杰", revenue=7_400_000, discount=22.5, renewal=50),  # the pattern: flagged
            card(2, "王军", revenue=7_200_000, discount=29.5, renewal=75, csat=3.1),  # the pattern, by satisfaction
            card(3, "张伟", revenue=5_500_000, discount=1.5, renewal=40),  # poor renewals, fair prices
            card(4, "郑磊", revenue=4_400_000, discount=25.0, renewal=80),  # deep discounts, kept customers
            card(5, "黄洋", revenue=900_000, discount=24.0, renewal=30),  # the habits without the volume
            card(6, "高悦", revenue=2_100_000, discount=2.0, renewal=70),
            card(7, "周秀", revenue=1_700_000, discount=3.2, renewal=66),
            card(8, "赵艳", revenue=1_000_000, discount=3.0, renewal=90),
            card(9, "张杰", revenue=2_700_000, discount=2.2, renewal=60),
            card(10, "陈明", revenue=800_000, discount=4.0, renewal=75)]
