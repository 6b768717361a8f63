"""The security headers of a real server: every main page renders and works under the content security policy
in a real browser with no violation, another site cannot frame a page, and pages, static files and the API all
carry the headers."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.conftest import Server
from tests.e2e.test_leads_pages import field
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.slow]

PAGES = ("/", "/leads", "/scoring", "/routing", "/routing/policy", "/reports/fairness", "/appeals",
         "/notifications", "/notifications/settings", "/notifications/ops", "/admin")
# Collects every violation the page reports, from the first script on (before NiceGUI's own run).
LISTEN = """document.addEventListener('securitypolicyviolation',
  e => (window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI));"""


def _watch(page: Page) -> list[str]:
    seen: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            seen.append(message.text)

    page.on("console", on_console)
    page.add_init_script(LISTEN)
    return seen


def _violations(page: Page) -> list[str]:
    return list(page.evaluate("window.__violations || []"))


@pytest.mark.browser
def test_main_pages_render_and_work_under_the_policy(server: Server, page: Page) -> None:
    console = _watch(page)
    sign_in(page, server.base, "admin")
    for path in PAGES:
        response = page.goto(f"{server.base}{path}")
        assert response is not None and "frame-ancestors 'none'" in response.headers["content-security-policy"]
        expect(page.get_by_test_id("whoami")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert _violations(page) == [], path
    page.goto(f"{server.base}/routing/policy")  # Mermaid draws the policy; CodeMirror edits it
    expect(page.get_by_test_id("policy-diagram").locator("svg")).to_be_visible(timeout=15_000)
    page.goto(f"{server.base}/leads")  # typing filters on the server, over the page's WebSocket
    expect(page.get_by_text("杭州新零售科技")).to_be_visible()
    field(page, "lead-search").fill("精密")
    expect(page.get_by_text("杭州新零售科技")).to_have_count(0)
    expect(page.get_by_text("苏州精密制造有限公司")).to_be_visible()
    page.get_by_text("苏州精密制造有限公司").click()
    expect(page.get_by_test_id("score-explanation")).to_contain_text("行业：制造业")
    assert _violations(page) == []
    assert console == []


@pytest.mark.browser
def test_another_site_cannot_frame_a_page(server: Server, page: Page) -> None:
    framer = "http://framer.example/"  # a foreign site, answered by the browser's network layer
    page.route(framer, lambda route: route.fulfill(
        content_type="text/html", body=f'<iframe id="victim" src="{server.base}/login"></iframe>'))
    page.goto(framer)  # returns once the frame has loaded or been refused
    (frame,) = page.main_frame.child_frames
    assert frame.url.startswith("chrome-error://"), frame.url  # refused: framed, it would be the sign-in page
    expect(page.frame_locator("#victim").locator('input[name="username"]')).to_have_count(0)


def test_pages_static_files_and_the_api_carry_the_headers(server: Server) -> None:
    with httpx.Client(base_url=server.base) as client:
        page = client.get("/login")
        script = re.search(r'src="(/_nicegui/[^"]+\.js)"', page.text)
        assert script, page.text[:2000]
        answers = [page, client.get(script.group(1)), client.get("/no-such-page"), client.get("/api/v1/me"),
                   client.get("/healthz")]
    assert [a.status_code for a in answers] == [200, 200, 404, 401, 200]
    for answer in answers:
        assert answer.headers["x-frame-options"] == "DENY", answer.url
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["referrer-policy"] == "same-origin", answer.url
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], answer.url


def test_trace_on_a_page_is_405_json(server: Server) -> None:
    for path in ("/", "/login", "/leads/1", "/api/v1/me"):
        response = httpx.request("TRACE", f"{server.base}{path}")
        assert response.status_code == 405, (path, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"]["code"] == "method_not_allowed"
