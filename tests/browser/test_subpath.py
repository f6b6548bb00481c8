"""The app behind a proxy that serves it under a path of its own (https://host/featuremaps/
-> the server's /), as a department's web server would: every address the page and /docs
use is relative, so they stay under the prefix. Found by an operations review: the page
asked for /static/... and /api/v1/... at the host's root, and nothing worked."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.browser.conftest import DIGITS, answer_shown, new_page, sample_body
from tests.browser.prefixproxy import prefix_proxy

pytestmark = pytest.mark.browser

SEVEN = [(0.22, 0.18), (0.78, 0.18), (0.45, 0.88)]


@pytest.fixture
def proxied(server_url: str) -> Any:
    with prefix_proxy(int(server_url.rsplit(":", 1)[1])) as base:
        yield base


@pytest.mark.parametrize("transport", ["websocket", "http"])
def test_the_page_works_under_a_path_prefix(browser: Any, api: Any, proxied: str,
                                            transport: str) -> None:
    context, fm = new_page(browser, api, viewport={"width": 1280, "height": 900})
    page = fm.page
    outside: list[str] = []
    bare = proxied.rstrip("/")
    page.on("request", lambda r: None if r.url.startswith(proxied)
            or r.url.split("?")[0] == bare else outside.append(r.url))
    try:
        # the bare prefix, as a user types it: the proxy adds the slash and keeps the query
        query = "?transport=http" if transport == "http" else ""
        page.goto(bare + query)
        assert page.url == proxied + query
        page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
        fm.after_paint(lambda: fm.stroke(SEVEN, steps=6), source="pad")
        painted = [p for p in fm.paints() if p["source"] == "pad"]
        assert {p["transport"] for p in painted} == {transport}
        # a sample digit (its picture from under the prefix too) gets the API's answer
        sample = sample_body(DIGITS / "0018_label3.png")
        expected = fm.api.featuremaps(sample, "application/json")
        fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
        for net in ("max", "avg"):
            model = expected["models"][net]
            top = max(model["probabilities"])
            assert fm.prediction(net) == f"predicts {model['prediction']} {answer_shown(top)}"
    finally:
        context.close()
    assert outside == []
    assert not fm.errors, fm.errors


@pytest.mark.parametrize("where", ["prefix", "root"])
def test_the_api_docs_try_it_out_where_they_are_served(browser: Any, server_url: str,
                                                       proxied: str, where: str) -> None:
    """The page's link opens /docs beside the page; /docs loads its description from beside
    itself, and "Try it out" sends there: under the prefix behind the proxy, at the root
    without one."""
    base = proxied if where == "prefix" else server_url + "/"
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(base)
        page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
        page.get_by_role("link", name="REST API").click()
        page.wait_for_url(base + "docs")
        page.locator("#operations-operations-healthz_healthz_get").click()
        page.get_by_role("button", name="Execute").click()
        status = page.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=30_000)
        assert status.inner_text().strip() == "200"
        url = page.locator(".request-url pre").first.inner_text()
        assert url == base + "healthz"
        # white on the method badges at WCAG AA's 4.5:1 at least (a review: Swagger UI's own
        # GET was 2.3:1, POST 2.0:1), and a way back to the page
        ratios = page.evaluate("""() => [...document.querySelectorAll('.opblock-summary-method')]
          .map((b) => {
            const [r, g, bl] = getComputedStyle(b).backgroundColor.match(/\\d+/g).map(Number)
              .map((c) => c / 255)
              .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
            return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * bl + 0.05);
          })""")
        assert len(ratios) >= 5 and min(ratios) >= 4.5, ratios
        page.get_by_role("link", name="← featuremaps: draw a digit and see the maps").click()
        page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
        assert page.url == base
    finally:
        context.close()


def test_the_proxy_redirects_the_bare_prefix(proxied: str) -> None:
    """The page needs the slash: its relative addresses resolve against it."""
    with urllib.request.urlopen(proxied.rstrip("/")) as r:
        assert r.geturl() == proxied
        assert b'src="static/js/main.js"' in r.read()
    with urllib.request.urlopen(proxied + "api/v1/models") as r:
        assert {m["name"] for m in json.load(r)["models"]} >= {"max", "avg"}
