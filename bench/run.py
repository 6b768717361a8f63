"""Run every bench/bench_*.py and write its figures to bench/results/<name>.json.

Each module offers ``run() -> dict``; figures that compare against a baseline measure the baseline
in the same run, because these machines are shared and noisy.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def _load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(selected: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if selected and name not in selected:
            continue
        started = time.perf_counter()
        figures = _load(path).run()
        record = {"bench": name, "at": datetime.now(UTC).isoformat(), "seconds": time.perf_counter() - started,
                  "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                              "platform": platform.platform()},
                  "figures": figures}
        (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
        print(json.dumps({"bench": name, **figures}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
