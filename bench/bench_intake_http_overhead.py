"""Where the time of ``POST /api/v1/leads`` goes at one connection: inside ``intake.flows.take_in`` and around it.

evenhand serves bench/routed_org.py's organisation on SQLite (bench_intake_wrk's ``_token``: the uncapped default
policy and an ops token) under uvicorn, as ``bench/wrk/timed_app.py``: evenhand's app with timers wrapped around
its parts from outside. wrk posts fresh leads (``bench/wrk/unique_lead.lua``) at 1 connection for
``EVENHAND_BENCH_WRK_SECONDS`` (10) after ``EVENHAND_BENCH_WRK_WARM`` (2) seconds of warm-up,
``EVENHAND_BENCH_WRK_ROUNDS`` (3) times, alternating with the bare endpoint (bench/wrk/bare_app.py) on a file of its
own. Each round reports the
client's latency (wrk: mean and p50), the bare endpoint's, and the server's mean per request of each part:

- ``request``: the ASGI call, from the request handed in to the last byte sent;
- ``take_in``: ``intake.flows.take_in`` (what bench_intake_breakdown measures in process);
- ``transaction around take_in``: the group commit's session, BEGIN IMMEDIATE and the durable commit;
- ``group commit queue``: ``Arrivals.take`` less its transaction (the hand-off to the group commit's own writer
  thread and back included, where there is one: at one connection on SQLite a lone lead is written on the event
  loop itself);
- ``auth``: signing the sender in: ``deps.read_writer`` in its worker thread (the read-only transaction with the
  token lookup), or, where the group's transaction signs its senders in, ``deps.authenticate`` there;
- ``response``: ``LeadIntakeRead.model_validate`` and FastAPI's ``serialize_response`` (where the handler returns the
  model, not its JSON), less its thread hop;
- ``thread hops``: the event loop handing calls to AnyIO's thread pool and getting their results back (an older tree's
  group commit writer among them);
- ``framework``: the rest of the ASGI call (middleware, routing, body parsing, dependency solving, JSONResponse);
- ``server CPU per request``: the server process's CPU time (every thread) over the round, per request: what the
  request costs, which a shared machine's load disturbs much less than the times above.

    .venv/bin/python bench/bench_intake_http_overhead.py        # a table at the end
    .venv/bin/python bench/run.py intake_http_overhead          # written to bench/results/intake_http_overhead.json
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE)]

import bench_intake_wrk as wrk_bench  # noqa: E402

import evenhand  # noqa: E402

SECONDS = int(os.environ.get("EVENHAND_BENCH_WRK_SECONDS", "10"))
WARM = int(os.environ.get("EVENHAND_BENCH_WRK_WARM", "2"))
ROUNDS = int(os.environ.get("EVENHAND_BENCH_WRK_ROUNDS", "3"))


def _mean_ms(output: str) -> float:
    """wrk's mean latency (its "Latency" line's first figure)."""
    for line in output.splitlines():
        parts = line.split()
        if parts[:1] == ["Latency"]:
            value = parts[1]
            for unit in ("us", "ms", "s"):
                if value.endswith(unit):
                    return round(float(value[:-len(unit)]) * wrk_bench._UNIT_MS[unit], 3)
    raise AssertionError(f"no mean latency in wrk's output:\n{output}")


def _client(bench: wrk_bench.Bench, target: str) -> dict[str, float]:
    bench.once(target, 1, 1, WARM)
    done = subprocess.run(bench._command(target, 1, 1, SECONDS), capture_output=True, text=True, check=True,
                          timeout=SECONDS + 60)
    row = wrk_bench.parse(done.stdout, target, 1)
    if row.wrong:
        raise RuntimeError(f"{target}: the run measured errors, its figures are worthless: {'; '.join(row.wrong)}")
    if target in bench.posted:
        bench.posted[target] += row.created or 0
        bench.in_flight[target] += 1
    return {"rps": row.rps, "mean_ms": _mean_ms(done.stdout), "p50_ms": row.p50_ms, "p99_ms": row.p99_ms}


def parts(mean: dict[str, float]) -> dict[str, float]:
    """The server's mean per request split into parts that add up to ``request``."""
    hops = {name: value for name, value in mean.items() if name.startswith("thread hop")}
    validate_hop = hops.get("thread hop: validate", 0.0)
    signing_in = mean.get("signing in (group)", 0.0)  # in the group's transaction, where a tree signs in there
    out = {"take_in": mean.get("take_in", 0.0),
           "transaction around take_in": mean.get("transaction", 0.0) - mean.get("take_in", 0.0) - signing_in,
           "group commit queue": (mean.get("group commit", 0.0) - mean.get("transaction", 0.0)
                                  - hops.get("thread hop: write_next", 0.0)),
           "auth": mean.get("in thread: read_writer", 0.0) + signing_in,
           "response": mean.get("response model", 0.0) + mean.get("response serialization", 0.0) - validate_hop,
           "thread hops": sum(hops.values())}
    out["framework"] = mean["request"] - sum(out.values())
    return {**{name: round(value, 3) for name, value in out.items()}, "request": mean["request"],
            "outside take_in": round(mean["request"] - out["take_in"], 3)}


def run() -> dict[str, Any]:
    wrk = wrk_bench._wrk()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = wrk_bench._sqlite(tmp)
        token = wrk_bench._token(db.evenhand_url)
        wrk_bench.bare_app.prepare(db.bare_target)
        evenhand_env, bare_env = wrk_bench._environments(db, tmp)
        with wrk_bench.served(["--factory", "--app-dir", str(wrk_bench.WRK_DIR), "bare_app:from_environment"],
                              bare_env, 1, tmp) as bare, \
                wrk_bench.served(["--app-dir", str(wrk_bench.WRK_DIR), "timed_app:app"], evenhand_env, 1, tmp) as url:
            bench = wrk_bench.Bench(wrk, bare, url, token)
            for _ in range(ROUNDS):
                bare_client = _client(bench, "bare")
                bench.once("routed", 1, 1, WARM)
                httpx.get(f"{url}/__timings", timeout=10)  # the warm-up's requests are not counted
                client = _client(bench, "routed")
                server = httpx.get(f"{url}/__timings", timeout=10).json()
                rounds.append({"client": client, "bare_client": bare_client, "requests": server["requests"],
                               "server_cpu_ms_per_request": server["cpu_ms_per_request"],
                               "server_mean_ms": server["mean_ms"], "parts_ms": parts(server["mean_ms"]),
                               "gc": server["gc"], "gc_frozen": server["gc_frozen"]})
        counts = wrk_bench._evenhand_counts(db.evenhand_url)
    if counts["assigned"] != counts["leads"]:
        raise RuntimeError(f"{counts['leads'] - counts['assigned']} leads stored without an assignment")
    return {"evenhand_from": str(Path(evenhand.__file__).parent), "seconds_per_round": SECONDS, "rounds": rounds,
            "parts_ms_median": {name: round(statistics.median(r["parts_ms"][name] for r in rounds), 3)
                                for name in rounds[0]["parts_ms"]},
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def table(figures: dict[str, Any]) -> str:
    rounds = figures["rounds"]
    lines = ["| part | " + " | ".join(f"round {i + 1}" for i in range(len(rounds))) + " |",
             "|---|" + "---|" * len(rounds)]
    for name in rounds[0]["parts_ms"]:
        lines.append(f"| {name} | " + " | ".join(f"{r['parts_ms'][name]:.3f}" for r in rounds) + " |")
    lines.append("| server CPU per request | " + " | ".join(f"{r['server_cpu_ms_per_request']:.3f}" for r in rounds)
                 + " |")
    for label, key, field in (("client mean (wrk)", "client", "mean_ms"), ("client p50 (wrk)", "client", "p50_ms"),
                              ("client req/s", "client", "rps"), ("bare mean (wrk)", "bare_client", "mean_ms")):
        lines.append(f"| {label} | " + " | ".join(f"{r[key][field]:.3f}" for r in rounds) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    result = run()
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result))
