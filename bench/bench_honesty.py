"""The honesty checks on the demo company (seed 7, full size: ~280,000 activities, ~35,000 CRM notes) on SQLite.

Precision and recall of the unbacked flags against the demo's ground truth (the follow-ups its simulation logged
without making them, ``DemoSummary.fabricated_note_ids``), the time of a full scan and of a second one (nothing
new), and, measured in the same run on the same database, the baseline a plain SQL query gives: a note is
unbacked when no captured activity of any kind with its lead or deal falls in the same window (a correlated
``NOT EXISTS``), without claims, declared types, connected calls or the deal's lead.

Near-duplicates: 20,000 synthetic notes of 40 to 80 characters with 1,000 planted near-copies (two characters
changed) across customers, through MinHash and LSH; of the planted pairs whose exact similarity reaches the
threshold, the share LSH finds, and the time.

    .venv/bin/python bench/bench_honesty.py                 # alone
    .venv/bin/python bench/run.py honesty                   # written to bench/results/honesty.json

EVENHAND_BENCH_HONESTY_SCALE changes the demo's scale (default 1.0)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select, text

SCALE = float(os.environ.get("EVENHAND_BENCH_HONESTY_SCALE", "1.0"))
END = date(2026, 11, 27)
ALL = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
BASELINE = """
SELECT n.id FROM activities n WHERE n.type = 'note' AND NOT EXISTS (
  SELECT 1 FROM activities b
  WHERE (b.lead_id = n.lead_id OR b.opportunity_id = n.opportunity_id) AND b.source_system != 'crm'
    AND b.occurred_at BETWEEN datetime(n.occurred_at, :before) AND datetime(n.occurred_at, :after))"""


def _figures(flagged: set[int], truth: set[int]) -> dict[str, Any]:
    hits = len(flagged & truth)
    return {"flagged": len(flagged), "true_positives": hits,
            "precision": round(hits / len(flagged), 4) if flagged else None,
            "recall": round(hits / len(truth), 4) if truth else None}


def _scan(engine: Engine) -> tuple[dict[str, Any], set[int]]:
    from evenhand.db import session_scope
    from evenhand.honesty import service
    from evenhand.models import FlagKind, HonestyFlag

    started = time.perf_counter()
    with session_scope(engine) as session:
        first = service.scan(session, since=ALL[0], until=ALL[1])
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    with session_scope(engine) as session:
        again = service.scan(session, since=ALL[0], until=ALL[1])
    rescan = time.perf_counter() - started
    with session_scope(engine, readonly=True) as session:
        flagged = set(session.scalars(select(HonestyFlag.activity_id).where(HonestyFlag.kind == FlagKind.UNBACKED)))
    return {"notes": first.notes, "new": first.new, "digests": first.digests, "seconds": round(seconds, 2),
            "rescan_seconds": round(rescan, 2), "rescan_new": again.new}, flagged


def _baseline(engine: Engine) -> tuple[float, set[int]]:
    from evenhand.config import get_settings

    s = get_settings()
    params = {"before": f"-{s.honesty_window_before_hours} hours", "after": f"+{s.honesty_window_after_hours} hours"}
    started = time.perf_counter()
    with engine.connect() as conn:
        ids = {row[0] for row in conn.execute(text(BASELINE), params)}
    return time.perf_counter() - started, ids


def demo_figures(directory: Path) -> dict[str, Any]:
    from evenhand.db import make_engine
    from evenhand.demo import build
    from evenhand.migrate import upgrade

    engine = make_engine(f"sqlite:///{directory / 'demo.sqlite'}")
    upgrade(engine)
    summary = build(engine, seed=7, end_date=END, scale=SCALE)
    truth = set(summary.fabricated_note_ids)
    scan, flagged = _scan(engine)
    base_seconds, base_flagged = _baseline(engine)
    engine.dispose()
    return {"scale": SCALE, "activities": summary.counts.get("activities"), "fabricated": len(truth),
            "scan": scan, "unbacked": _figures(flagged, truth),
            "baseline": {"seconds": round(base_seconds, 2), **_figures(base_flagged, truth)},
            "scan_vs_baseline_time": round(scan["seconds"] / base_seconds, 3) if base_seconds else None}


def duplicate_figures(n: int = 20_000, planted: int = 1_000) -> dict[str, Any]:
    from evenhand.honesty import detect

    rng = np.random.default_rng(11)
    alphabet = np.array(list("客户需求方案报价合同交付实施培训预算采购决策技术商务沟通确认安排会议演示产品价格周期服务"
                             "系统数据平台接口部署升级试用反馈竞品优势风险目标计划进度负责领导财务"))
    texts = ["".join(rng.choice(alphabet, int(rng.integers(40, 81)))) for _ in range(n)]
    sources = rng.choice(n, planted, replace=False)
    copies = []
    for k in sources.tolist():
        chars = list(texts[k])
        for at in rng.choice(len(chars), 2, replace=False).tolist():
            chars[at] = str(rng.choice(alphabet))
        copies.append("".join(chars))
    ids = np.arange(1, n + planted + 1, dtype=np.int64)
    started = time.perf_counter()
    found = detect.duplicates(ids, ids.copy(), texts + copies, detect.Rules())
    seconds = time.perf_counter() - started
    pairs = {(s.note_id, other) for s in found for other, _ in s.similar}
    rules = detect.Rules()
    above = [(int(src) + 1, n + j + 1) for j, src in enumerate(sources.tolist())
             if _jaccard(texts[int(src)], copies[j], rules.shingle) >= rules.threshold]
    hits = sum(pair in pairs for pair in above)
    return {"notes": n + planted, "planted": planted, "planted_at_or_above_threshold": len(above), "found": hits,
            "recall": round(hits / len(above), 4) if above else None, "flagged_notes": len(found),
            "seconds": round(seconds, 2)}


def _jaccard(a: str, b: str, size: int) -> float:
    """The exact similarity the detector thresholds: whether LSH finds a pair is what is measured."""
    from evenhand.honesty import detect

    x, y = detect.shingles(detect.normalised(a), size), detect.shingles(detect.normalised(b), size)
    return len(x & y) / len(x | y)


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-honesty-") as tmp:
        demo = demo_figures(Path(tmp))
    return {"demo": demo, "duplicates": duplicate_figures()}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    print(json.dumps(run(), indent=2, ensure_ascii=False))
