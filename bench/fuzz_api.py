"""Schemathesis against the whole API of the demo company, as an admin, over HTTP: the figures of one run.

Builds the demo into a temporary directory, serves it on one process (``evenhand serve``, SQLite, which
also runs the notification worker), mints an admin token and runs the schemathesis CLI on every operation
with every check, one worker and a fixed seed. Prints the test cases generated, the unique failures per
check, every 5xx with the request that produced it, network errors (a connection reset or a timeout) and
the tracebacks in the server log. Exits 1 if there was a 5xx, a network error or a traceback.

No operation is excluded: sign-in, sign-out and tokens are not part of the API schema, nobody deactivates
themselves or changes their own role (403), the last active admin stays (409), and a password change does
not revoke bearer tokens; so the fuzzer cannot lock itself out. ``--exclude-path-regex`` is passed on if a
later operation needs it.

    .venv/bin/python bench/fuzz_api.py [--examples 50] [--seed 1] [--keep] [-- more schemathesis options]

Not part of ``make test`` or ``make bench``: a run takes minutes and the figures are read, not asserted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import http_load

BIN = Path(sys.executable).parent


def _prepare(tmp: Path, env: dict[str, str]) -> str:
    """The demo company in ``tmp/var`` and an admin's bearer token (printed alone on the last line)."""
    db = tmp / "var" / "evenhand.sqlite"
    with open(tmp / "demo.log", "wb") as log:
        subprocess.run([BIN / "evenhand", "demo", "--no-serve", "--db", db], env=env, cwd=tmp, stdout=log,
                       stderr=subprocess.STDOUT, check=True)
    out = subprocess.run([BIN / "evenhand", "tokens", "create", "--user", "admin", "--role", "admin",
                          "--name", "fuzz"], env=env, cwd=tmp, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def _fuzz(base: str, token: str, tmp: Path, args: argparse.Namespace) -> list[str]:
    command = [str(BIN / "schemathesis"), "run", f"{base}/openapi.json", "-H", f"Authorization: Bearer {token}",
               "--checks", "all", "--max-examples", str(args.examples), "--seed", str(args.seed), "--workers", "1",
               "--request-timeout", "60", "--report", "json,ndjson", "--report-dir", str(tmp / "report"),
               *args.extra]
    with open(tmp / "schemathesis.log", "wb") as log:
        subprocess.run(command, cwd=tmp, stdout=log, stderr=subprocess.STDOUT, check=False)
    return [part if "Bearer" not in part else "Authorization: Bearer $TOKEN" for part in command]


def _request(interaction: dict[str, Any]) -> str:
    request = interaction["request"]
    body = request.get("body")
    text = base64.b64decode(body["$base64"]).decode("utf-8", "replace") if body else ""
    return f"{request['method']} {request['uri']} {text[:300]}".rstrip()


def _scan(ndjson: Path) -> tuple[dict[str, str], list[str], int]:
    """Check names by failure code, every distinct 5xx (status, request), and requests that got no response."""
    names: dict[str, str] = {}
    server_errors: dict[str, None] = {}
    unanswered = 0
    for line in ndjson.read_text(encoding="utf-8").splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        for results in recorder.get("checks", {}).values():
            for check in results:
                if check["status"] == "failure" and check.get("failure_info"):
                    names[check["failure_info"]["failure"]["code"]] = check["name"]
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response")
            if response is None:
                unanswered += 1
            elif response["status_code"] >= 500:
                server_errors[f"{response['status_code']} {_request(interaction)}"] = None
    return names, list(server_errors), unanswered


def _summary(tmp: Path, command: list[str]) -> dict[str, Any]:
    report = json.loads(next((tmp / "report").glob("json-*.json")).read_text(encoding="utf-8"))
    names, server_errors, unanswered = _scan(next((tmp / "report").glob("ndjson-*.ndjson")))
    tracebacks = (tmp / "server.log").read_text(encoding="utf-8", errors="replace").count("Traceback")
    return {"command": " ".join(command), "seconds": round(report["running_time"]),
            "operations": report["operations"]["tested"], "cases": report["test_cases"]["generated"],
            "failures_by_check": {names.get(f["code"], f["code"]): f["count"] for f in report["failures"]},
            "server_errors": server_errors, "network_errors": len(report["errors"]) + unanswered,
            "server_tracebacks": tracebacks}


def _serve_and_fuzz(tmp: Path, env: dict[str, str], token: str, args: argparse.Namespace) -> list[str]:
    """One server process, its output in a file (a pipe nobody reads would stall it), stopped after the run."""
    port = http_load.free_port()
    with open(tmp / "server.log", "wb") as log:
        server = subprocess.Popen([BIN / "evenhand", "serve", "--port", str(port)], env=env, cwd=tmp,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        http_load.wait_until_up(f"http://127.0.0.1:{port}", server, seconds=120)
        return _fuzz(f"http://127.0.0.1:{port}", token, tmp, args)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=50, help="test cases per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the directory with the logs and reports")
    parser.add_argument("extra", nargs="*", help="more schemathesis options, after --")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="evenhand-fuzz-"))
    env = {**os.environ, "EVENHAND_DATA_DIR": str(tmp / "var"),
           "EVENHAND_DATABASE_URL": f"sqlite:///{tmp / 'var' / 'evenhand.sqlite'}"}
    try:
        token = _prepare(tmp, env)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"{exc.cmd[1]} failed; see {tmp}")
    summary = _summary(tmp, _serve_and_fuzz(tmp, env, token, args))
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if args.keep:
        print(f"logs and reports: {tmp}")
    else:
        shutil.rmtree(tmp)
    return 1 if summary["server_errors"] or summary["network_errors"] or summary["server_tracebacks"] else 0


if __name__ == "__main__":
    sys.exit(main())
