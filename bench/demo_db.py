"""The demo company a benchmark measures: the one the environment names, or one built in a folder (seed 7).

- ``EVENHAND_BENCH_DEMO_URL``: a demo built in another database (PostgreSQL), used as it is;
- ``EVENHAND_BENCH_DEMO_DB``: a demo SQLite file, brought up to the current schema first;
- otherwise the demo is built in ``folder`` up to ``end_date`` (a few minutes).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from evenhand.db import make_engine
from evenhand.migrate import upgrade


def demo_url(folder: Path, end_date: date) -> str:
    if os.environ.get("EVENHAND_BENCH_DEMO_URL"):
        return os.environ["EVENHAND_BENCH_DEMO_URL"]
    given = os.environ.get("EVENHAND_BENCH_DEMO_DB")
    url = f"sqlite:///{Path(given).resolve()}" if given else f"sqlite:///{folder / 'demo.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    if not given:
        from evenhand.demo.service import build

        build(engine, seed=7, end_date=end_date)
    engine.dispose()
    return url
