"""The connectors page shows each platform's last backfill pull: when, its counts, and the error it stopped on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from evenhand.capture import pull
from evenhand.db import make_engine
from tests.e2e.conftest import _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_last_pull_is_shown_with_its_counts_and_error(page: Page, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pulls.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    window = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    pull.record(engine, "wecom", *window, pull.Counts(fetched=12, stored=9, already_had=2, unmatched=1))
    pull.record(engine, "dingtalk", *window, pull.Counts(fetched=3), error="DingTalk: errcode 60011: no permission")
    engine.dispose()
    with serving(tmp_path, url) as server:
        sign_in(page, server.base, "admin")
        page.get_by_test_id("whoami").wait_for()
        page.goto(f"{server.base}/admin/connectors")
        wecom, dingtalk = page.get_by_test_id("connector-wecom"), page.get_by_test_id("connector-dingtalk")
        expect(wecom.get_by_test_id("last-pull")).to_contain_text("拉取 12 条，保存 9 条，已有 2 条，未匹配 1 条")
        expect(wecom.get_by_test_id("last-pull")).to_contain_text("上次回补")
        expect(dingtalk.get_by_test_id("last-pull")).to_contain_text("errcode 60011: no permission")
        expect(page.get_by_test_id("connector-telephony").get_by_test_id("last-pull")).to_have_count(0)
