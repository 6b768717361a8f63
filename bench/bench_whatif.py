"""What-if replay (R4.7) on the demo company: seconds for 7, 30 and 90 days, both policies side by side.

The demo (seed 7, ending 2026-11-27: 67 reps and selling supervisors, ~100 leads a working day) is built
into a temporary SQLite file, or read from EVENHAND_BENCH_DEMO_DB when set (a file built with
``evenhand demo --no-serve --db FILE --end-date 2026-11-27``). The candidate lowers the high-value
threshold from 80 to 75. Baseline in the same run: reading the history alone (``read_history``), the
floor any replay pays before routing a single lead.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from evenhand.config import get_settings
from evenhand.db import make_engine, session_scope
from evenhand.routing import whatif
from evenhand.routing.policy import default_text

sys.path.insert(0, str(Path(__file__).parent))
from demo_db import demo_url

END = date(2026, 11, 27)
DAYS = (7, 30, 90)


def run() -> dict[str, Any]:
    candidate = default_text().replace("threshold_high_value: 80", "threshold_high_value: 75")
    figures: dict[str, Any] = {"candidate": "threshold_high_value 80 → 75"}
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(demo_url(Path(folder), END))
        for days in DAYS:
            start = END - timedelta(days=days - 1)
            with session_scope(engine, readonly=True) as session:
                began = time.perf_counter()
                whatif.read_history(session, start, END, get_settings().zone, threshold=80)
                read = time.perf_counter() - began
            with session_scope(engine, readonly=True) as session:
                began = time.perf_counter()
                result = whatif.replay(session, candidate, start=start, end=END)
                total = time.perf_counter() - began
            figures[f"days_{days}"] = {"leads": result["leads"], "seconds": round(total, 2),
                                       "baseline_read_history_seconds": round(read, 2),
                                       "leads_per_s_both_policies": round(2 * result["leads"] / total),
                                       "moved": result["difference"]["moved"]}
        engine.dispose()
    return figures


if __name__ == "__main__":
    print(run())
