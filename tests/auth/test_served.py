"""The app as ``evenhand serve`` runs it (uvicorn, a real socket): ``X-Forwarded-For`` names the client only when
the connection comes from a proxy in ``EVENHAND_TRUSTED_PROXIES``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import evenhand_serve

pytestmark = pytest.mark.slow


def spray(db_url: str, tmp_path: Path, *, trusted: str, attempts: int) -> list[int]:
    """``attempts`` sign-ins to as many accounts, each claiming its own address, from 127.0.0.1."""
    settings = {"EVENHAND_WORKER_IN_SERVE": "false", "EVENHAND_LOGIN_FREE_FAILURES_PER_ADDRESS": "5",
                "EVENHAND_LOGIN_BACKOFF_SECONDS": "60",  # no wait runs out while the test still knocks
                "EVENHAND_TRUSTED_PROXIES": trusted}
    with evenhand_serve(db_url, tmp_path, settings) as base:
        return [httpx.post(f"{base}/auth/login", data={"username": f"user{n}", "password": "Spring2026!"},
                           headers={"Origin": base, "X-Forwarded-For": f"192.0.2.{n + 1}"}).status_code
                for n in range(attempts)]


def test_a_client_cannot_spread_its_guesses_over_addresses_it_makes_up(db_url: str, tmp_path: Path) -> None:
    assert spray(db_url, tmp_path, trusted="", attempts=25) == [303] * 5 + [429] * 20


def test_behind_a_trusted_proxy_each_forwarded_address_counts_alone(db_url: str, tmp_path: Path) -> None:
    assert spray(db_url, tmp_path, trusted="127.0.0.1", attempts=8) == [303] * 8
