"""The routed intake of one lead in process on SQLite, this tree against another, measured in pairs: the way to
see a change of a few per cent on a shared machine, whose drift is larger than that from one minute to the next.

Two worker processes, one importing this tree's evenhand and one the tree whose ``src`` is in
``EVENHAND_BENCH_BASE_SRC`` (a commit unpacked with ``git archive``), each build their own copy of bench/routed_org.py's
organisation under bench_intake_wrk's uncapped policy (no rep fills up however many rounds) and warm up. Then,
``EVENHAND_BENCH_PAIRED_ROUNDS`` (15) times, each is asked in turn (the order alternating) to take
``EVENHAND_BENCH_PAIRED_LEADS`` (300) fresh leads, one transaction each (or ``EVENHAND_BENCH_PAIRED_GROUP`` leads per
transaction, as the group commit takes them at several connections), and reports its median wall and CPU time per
lead. A round takes the two a second or so apart, so whatever the machine is doing then falls on both: the figure is
the median over rounds of this tree's median / the base's.

Without ``EVENHAND_BENCH_BASE_SRC`` both workers run this tree: the ratios' spread around 1 is then the method's
own noise.

    EVENHAND_BENCH_BASE_SRC=/tmp/base/src .venv/bin/python bench/bench_intake_paired.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROUNDS = int(os.environ.get("EVENHAND_BENCH_PAIRED_ROUNDS", "15"))
LEADS = int(os.environ.get("EVENHAND_BENCH_PAIRED_LEADS", "300"))
GROUP = int(os.environ.get("EVENHAND_BENCH_PAIRED_GROUP", "1"))
WARM = 200

_WORKER = """
import json, statistics, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {bench!r})
from bench_intake_breakdown import _Door
from bench_intake_wrk import uncapped_policy
from routed_org import build
import evenhand
from evenhand.db import session_scope
from evenhand.intake import flows
from evenhand.routing import policy_versions
tmp = tempfile.mkdtemp()
engine = build(f"sqlite:///{{Path(tmp) / 'routed.sqlite'}}")
with session_scope(engine) as session:
    policy_versions.POLICIES.install(session, uncapped_policy(), note="bench: no weekly cap")
door = _Door(engine)


def timed(count):  # each lead's share of its transaction's wall and CPU time, {group} leads per transaction
    wall, cpu = [], []
    for _ in range(max(1, count // {group})):
        leads = [door.lead() for _ in range({group})]
        began, used = time.perf_counter(), time.process_time()
        with session_scope(engine) as session:
            routed = flows.take_in(session, leads, actor=None, dedup=["email", "phone"])
        wall.append((time.perf_counter() - began) * 1000 / {group})
        cpu.append((time.process_time() - used) * 1000 / {group})
        assert all(decision is not None and decision.rep_id is not None for _, decision in routed)
    return wall, cpu


timed({warm})
print(json.dumps({{"package": str(Path(evenhand.__file__).parent)}}), flush=True)
for line in sys.stdin:
    wall, cpu = timed(int(line))
    print(json.dumps({{"wall": statistics.median(wall), "cpu": statistics.median(cpu)}}), flush=True)
"""


class _Worker:
    def __init__(self, src: str | None) -> None:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        if src:
            env["PYTHONPATH"] = src
        code = _WORKER.format(bench=str(HERE), warm=WARM, group=GROUP)
        self.process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env)
        self.package = self._read()["package"]

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"a worker stopped (exit status {self.process.wait()})")
        found: dict[str, Any] = json.loads(line)
        return found

    def take(self, leads: int) -> dict[str, float]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{leads}\n")
        self.process.stdin.flush()
        return self._read()

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def run() -> dict[str, Any]:
    base, head = _Worker(os.environ.get("EVENHAND_BENCH_BASE_SRC")), _Worker(None)
    rounds = []
    try:
        for n in range(ROUNDS):
            pair = ((base, "base"), (head, "head")) if n % 2 == 0 else ((head, "head"), (base, "base"))
            rounds.append({name: worker.take(LEADS) for worker, name in pair})
    finally:
        base.stop()
        head.stop()
    figures: dict[str, Any] = {"base": base.package, "head": head.package, "rounds": ROUNDS, "leads_per_round": LEADS,
                               "leads_per_transaction": GROUP}
    for key in ("wall", "cpu"):
        ratios = [r["head"][key] / r["base"][key] for r in rounds]
        figures[key] = {"base_median_ms": round(statistics.median(r["base"][key] for r in rounds), 3),
                        "head_median_ms": round(statistics.median(r["head"][key] for r in rounds), 3),
                        "head_over_base_median": round(statistics.median(ratios), 3),
                        "head_over_base_range": [round(min(ratios), 3), round(max(ratios), 3)]}
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
