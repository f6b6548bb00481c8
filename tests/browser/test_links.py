"""The page's address says what it shows (static/js/link.js), and a link opens it again:
asked for by a teacher's review (a worksheet could not say "open this link", and a reload
lost the digit and the settings)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from app.config import PROJECT_ROOT
from tests.browser.conftest import FeatureMapsPage, new_page, opened, ready

SEVEN = [(0.22, 0.18), (0.78, 0.18), (0.45, 0.88)]
CLIPBOARD = ["clipboard-read", "clipboard-write"]

pytestmark = pytest.mark.browser


def query(fm: FeatureMapsPage) -> dict[str, list[str]]:
    return parse_qs(urlsplit(fm.page.url).query)


def wait_query(fm: FeatureMapsPage, expected: str) -> None:
    """Until the address's query is `expected` (it is written at most every 350 ms)."""
    fm.page.wait_for_function("(q) => location.search === q", arg=expected and f"?{expected}")


def reopened(browser: Any, api: Any, href: str, nudges: int = 0,
             **context_options: Any) -> tuple[Any, FeatureMapsPage]:
    """`href` in a fresh browser context, once its input (and `nudges` nudges) are shown."""
    context, fm = new_page(browser, api, viewport={"width": 1280, "height": 900},
                           **context_options)
    fm.page.goto(href)
    fm.page.wait_for_selector("body[data-ready]", state="attached")
    fm.page.wait_for_function(
        """(n) => (window.__fmPaints || []).filter((d) => d.source === 'nudge').length === n
                && (window.__fmPaints || []).some((d) => d.source === 'upload')""", arg=nudges)
    fm.idle()
    return context, fm


def test_copy_link_copies_where_the_browser_has_no_clipboard_api(
        browser: Any, server_url: str, api: Any) -> None:
    """Over plain http to a LAN address (a class served from a teacher's machine) a browser
    has no navigator.clipboard: found by a review, every Copy link failed there. The page
    copies through a selection instead."""
    context, fm = new_page(browser, api, viewport={"width": 1280, "height": 900})
    try:
        page = fm.page
        page.add_init_script("""
          Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });
          document.addEventListener('copy', () => {
            window.__copied = String(document.getSelection());
          });""")
        page.goto(server_url + "/")
        page.wait_for_selector("body[data-ready]", state="attached")
        fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
        wait_query(fm, "digit=18")
        page.click("#copy-link")
        page.wait_for_function("() => document.getElementById('link-status').textContent")
        assert page.evaluate("window.__copied") == page.url
        assert page.inner_text("#copy-link") == "Link copied"
        assert page.evaluate("document.activeElement.id") == "copy-link"
        assert page.locator("textarea").count() == 0
    finally:
        context.close()
    assert not fm.errors, fm.errors


def copy_link(fm: FeatureMapsPage) -> str:
    """Copy link pressed: what the page then says of the link."""
    fm.page.click("#copy-link")
    fm.page.wait_for_function("() => document.getElementById('link-status').textContent")
    return fm.page.text_content("#link-status") or ""


def test_copy_link_on_an_empty_pad_says_it_opens_the_page_empty(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by a page review: before anything was drawn, Copy link said "the link opens
    this input", and the link held none."""
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900},
                permissions=CLIPBOARD) as fm:
        fm.page.check('input[name="norm"][value="layer"]')
        wait_query(fm, "norm=layer")
        assert copy_link(fm) == \
            "Copied: the link opens the page, its pad empty, with these settings."
        assert urlsplit(fm.page.evaluate("navigator.clipboard.readText()")).query == "norm=layer"


def test_a_sample_its_nudges_and_the_settings_are_in_the_address_and_a_link_reopens_them(
        browser: Any, server_url: str, api: Any) -> None:
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900},
                permissions=CLIPBOARD) as fm:
        fm.after_paint(lambda: fm.page.click('button[data-digit="18"]'), source="upload")
        wait_query(fm, "digit=18")
        for direction in ("right", "right", "down"):
            fm.after_paint(lambda d=direction: fm.page.click(f'#nudge button[data-dir="{d}"]'),
                           source="nudge")
        fm.page.check('input[name="size"][value="scale"]')
        fm.page.check('input[name="norm"][value="layer"]')
        wait_query(fm, "digit=18&dx=2&dy=1&size=scale&norm=layer")
        assert copy_link(fm) == "Copied: the link opens this input with these settings."
        assert fm.page.inner_text("#copy-link") == "Link copied"
        href = fm.page.evaluate("navigator.clipboard.readText()")
        assert href == fm.page.url
        pixels, answers = fm.input_pixels(), (fm.prediction("max"), fm.prediction("avg"))

    context, again = reopened(browser, api, href, nudges=3)
    try:
        wait_query(again, urlsplit(href).query)
        assert again.page.inner_text("#picked") == "MNIST test digit #18: labelled 3."
        np.testing.assert_array_equal(again.input_pixels(), pixels)
        assert (again.prediction("max"), again.prediction("avg")) == answers
        assert again.page.is_checked('input[name="size"][value="scale"]')
        assert again.page.is_checked('input[name="norm"][value="layer"]')
        assert "moved 2 px right and 1 px down" in again.page.inner_text("#nudge-status")
        # the sidebar stays at its top, the pad and samples in view (a page review: it
        # scrolled to the nudges' numbers as a pressed nudge does, past them)
        assert again.page.evaluate("document.querySelector('.sidebar').scrollTop") == 0
        assert again.page.is_enabled("#undo")
        # they came as nudges: Undo takes back the last, and the address follows
        again.after_paint(lambda: again.page.click("#undo"), source="undo")
        wait_query(again, "digit=18&dx=2&size=scale&norm=layer")
        # ... and the other two, back to the sample the link opened with, which Undo does
        # not take back (a student's review: it emptied the pad and the address)
        for _ in range(2):
            again.after_paint(lambda: again.page.click("#undo"), source="undo")
        wait_query(again, "digit=18&size=scale&norm=layer")
        assert again.page.is_disabled("#undo")
        assert again.page.inner_text("#picked") == "MNIST test digit #18: labelled 3."
        # there and back, with no ink pushed off the edge, the input is the sample moved by
        # the nudges' sum, and the address says so (a teacher's review: it held the levels,
        # and the line under the buttons went blank)
        for direction in ("right", "left"):
            again.after_paint(
                lambda d=direction: again.page.click(f'#nudge button[data-dir="{d}"]'),
                source="nudge")
        # the address held before these nudges: past the write put off (350 ms) for them
        again.page.wait_for_timeout(1000)
        assert again.page.evaluate("location.search") == "?digit=18&size=scale&norm=layer"
        assert again.page.inner_text("#nudge-status").startswith(
            "The input is back where it was. For the last nudge, each pooling layer changed less "
            "than the conv before it")
        again.after_paint(lambda: again.page.click('#nudge button[data-dir="up"]'),
                          source="nudge")
        wait_query(again, "digit=18&dy=-1&size=scale&norm=layer")
        # a nudge back and forth pushes ink off the edge for good: no longer the sample
        # moved by its sum, so the address holds the input's levels
        for direction in ["right"] * 10 + ["left"]:
            again.after_paint(
                lambda d=direction: again.page.click(f'#nudge button[data-dir="{d}"]'),
                source="nudge")
        again.page.wait_for_function("() => location.search.startsWith('?input=')")
        assert query(again)["input"][0] == levels_text(again.input_pixels())
        again.page.click("#clear")
        wait_query(again, "size=scale&norm=layer")
    finally:
        context.close()
    assert not again.errors, again.errors


def levels_text(pixels: np.ndarray) -> str:
    return base64.urlsafe_b64encode(pixels.astype(np.uint8).tobytes()).decode().rstrip("=")


def test_a_drawing_travels_as_the_levels_the_networks_saw(
        browser: Any, fm: FeatureMapsPage) -> None:
    fm.after_paint(lambda: fm.stroke(SEVEN, steps=6), source="pad")
    fm.page.wait_for_function("() => location.search.startsWith('?input=')")
    text = query(fm)["input"][0]
    assert len(text) == 1046  # 784 bytes, base64url without padding
    levels = np.frombuffer(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), np.uint8)
    pixels = fm.input_pixels()
    np.testing.assert_array_equal(levels.reshape(28, 28), pixels)
    answers = (fm.prediction("max"), fm.prediction("avg"))

    context, again = reopened(browser, fm.api, fm.page.url)
    try:
        np.testing.assert_array_equal(again.input_pixels(), pixels)
        assert (again.prediction("max"), again.prediction("avg")) == answers
        # no sample, no label; said to be the levels, not the strokes (a review: a blurred
        # digit, larger than drawn, without a word), in another tab, which has no strokes
        assert again.page.inner_text("#picked") == (
            "As the networks saw it: the 28x28 input the page's address holds, scaled up to "
            "the pad.")
        wait_query(again, urlsplit(fm.page.url).query)
        # the link's input is where the page starts: no Undo back to an empty pad (a
        # student's review: Undo on a teacher's link emptied the pad and the address), but a
        # sample picked over it is Undo's to take back, to the link's input
        assert again.page.is_disabled("#undo")
        again.after_paint(lambda: again.page.click('button[data-digit="18"]'), source="upload")
        again.after_paint(lambda: again.page.click("#undo"), source="undo")
        np.testing.assert_array_equal(again.input_pixels(), pixels)
        wait_query(again, urlsplit(fm.page.url).query)
        assert again.page.is_disabled("#undo")
    finally:
        context.close()
    assert not again.errors, again.errors


ANSWERS = re.compile(r"/api/v1/featuremaps(\?|$)")


def hold_answers(page: Any) -> list[Any]:
    """From now on the maps' requests are held: each route is appended to the list."""
    held: list[Any] = []
    page.route(ANSWERS, lambda route: held.append(route))
    return held


def four_over_nudged_18(fm: FeatureMapsPage) -> list[Any]:
    """Sample 18 nudged right, then sample 4 picked over it (an Undo puts back 18 and its
    nudge); from then on the maps' requests are held (hold_answers)."""
    page = fm.page
    fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
    fm.after_paint(lambda: page.click('#nudge button[data-dir="right"]'), source="nudge")
    fm.after_paint(lambda: page.click('button[data-digit="4"]'), source="upload")
    wait_query(fm, "digit=4")
    return hold_answers(page)


def test_undo_does_not_cancel_a_linked_digit_on_its_way(
        browser: Any, server_url: str, api: Any) -> None:
    """A review: while a link's digit was on its way (seconds, on a cold server), Undo was
    enabled and cancelled it, leaving an empty pad under an address that named the digit."""
    context, fm = new_page(browser, api, viewport={"width": 1280, "height": 900})
    try:
        page = fm.page
        held = hold_answers(page)
        page.goto(server_url + "/?digit=18")
        page.wait_for_selector("body[data-ready]", state="attached")
        page.wait_for_function("() => document.getElementById('picked') !== null")
        fm.wait_held(held)
        assert page.is_disabled("#undo")
        page.keyboard.press("Control+z")
        fm.after_paint(lambda: [route.continue_() for route in held], source="upload")
        page.unroute(ANSWERS)
        assert page.inner_text("#picked") == "MNIST test digit #18: labelled 3."
        assert fm.prediction("max").startswith("predicts 3 ")
        wait_query(fm, "digit=18")
        assert page.is_disabled("#undo")
    finally:
        context.close()
    assert not fm.errors, fm.errors


def test_a_write_put_off_holds_what_was_shown_when_it_was_asked(
        browser: Any, server_url: str, api: Any) -> None:
    """A review: an Undo that put back a nudged sample over another sample swapped in the
    nudges before the answer named the sample, and a write of the address put off until then
    linked the sample shown with the nudges of the one put back (?digit=5&dx=1). A write put
    off writes the address of what was shown when it was asked for."""
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        page = fm.page
        held = four_over_nudged_18(fm)
        # two changes of the settings in one task: the second is written LINK_MS after the
        # first, and Undo comes before it, its answer held
        page.evaluate("""() => {
            document.querySelector('input[name="size"][value="scale"]').click();
            document.querySelector('input[name="norm"][value="layer"]').click();
            document.getElementById('undo').click();
        }""")
        fm.wait_held(held)
        page.wait_for_timeout(1000)  # past the write put off (350 ms)
        assert page.evaluate("location.search") == "?digit=4&size=scale&norm=layer"
        fm.after_paint(lambda: [route.continue_() for route in held], source="undo")
        page.unroute(ANSWERS)
        wait_query(fm, "digit=18&dx=1&size=scale&norm=layer")
        assert page.inner_text("#picked") == "MNIST test digit #18: labelled 3."


@pytest.mark.parametrize("then", ["answered", "failed", "sample", "undo"])
def test_the_address_says_what_is_shown_while_an_undos_answer_is_on_its_way(
        browser: Any, server_url: str, api: Any, then: str) -> None:
    """Two reviews: a change of the settings while an Undo's answer was on its way linked the
    nudges put back with the sample still shown (?digit=4&dx=1), as did a sample picked or a
    second Undo then, which drop that answer, where their own answer failed; and an Undo
    whose answer failed left the address as that. Until the answer comes the address holds
    the input shown, as its levels, and once it comes, or fails, what is shown then."""
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        page = fm.page
        held = four_over_nudged_18(fm)
        shown = f"input={levels_text(fm.input_pixels())}&norm=layer"
        page.click("#undo")
        fm.wait_held(held)
        page.click('input[name="norm"][value="layer"]')
        wait_query(fm, shown)
        if then == "answered":
            fm.after_paint(lambda: held.pop().continue_(), source="undo")
            wait_query(fm, "digit=18&dx=1&norm=layer")
            return
        if then == "failed":
            held.pop().abort()
            wait_query(fm, "digit=4&norm=layer")
            assert page.inner_text("#picked") == "MNIST test digit #4: labelled 4."
            return
        # a newer input drops the put-back's answer, and its own fails
        page.click('button[data-digit="3"]' if then == "sample" else "#undo")
        held.pop(0).continue_()
        fm.wait_held(held)
        held.pop(0).abort()
        page.wait_for_selector("#error:not([hidden])")
        page.wait_for_timeout(1000)  # past any write put off (350 ms)
        assert page.evaluate("location.search") == f"?{shown}"
        page.unroute(ANSWERS)


def picked_first(fm: FeatureMapsPage, href: str, sample: int) -> None:
    """Open `href` (a digit and a nudge, whose answer is slowed) and pick `sample` at once:
    the sample is shown, the link's nudges are not made on it, and the address says it."""
    fm.page.goto(href)
    fm.page.wait_for_selector("body[data-ready]", state="attached")
    fm.after_paint(lambda: fm.page.click(f'button[data-digit="{sample}"]'), source="upload")
    fm.page.wait_for_timeout(2500)  # past the slowed answer and any nudge after it
    fm.idle()
    assert not [d for d in fm.paints() if d["source"] == "nudge"]
    assert fm.page.inner_text("#picked").startswith(f"MNIST test digit #{sample}:")
    wait_query(fm, f"digit={sample}")


def test_a_listed_digit_opens_and_what_cannot_be_followed_is_said(
        browser: Any, server_url: str, api: Any) -> None:
    listed = json.loads((PROJECT_ROOT / "static" / "digits" / "max-avg.json").read_text())
    samples = {int(p.stem[:4]) for p in (PROJECT_ROOT / "static" / "digits").glob("*.png")}
    digit = next(d for d in listed["digits"] if d["index"] not in samples)  # only in the list
    # a parameter of the page's own (the transport) stays, and the list need not be opened
    context, fm = reopened(browser, api, f"{server_url}/?transport=http&digit={digit['index']}")
    try:
        assert fm.page.inner_text("#picked") == \
            f"MNIST test digit #{digit['index']}: labelled {digit['label']}."
        assert fm.prediction("max").startswith(f"predicts {digit['max']} ")
        assert fm.prediction("avg").startswith(f"predicts {digit['avg']} ")
        assert fm.paints()[-1]["transport"] == "http"
        wait_query(fm, f"transport=http&digit={digit['index']}")

        fm.page.goto(f"{server_url}/?digit=5&dx=11&norm=bright")
        fm.page.wait_for_selector("#error:not([hidden])")
        assert fm.page.inner_text("#error-text") == (
            "The address could not be followed in full: norm=bright is not one of channel, "
            "layer; dx=11 is not a whole number of pixels from -10 to 10; MNIST test digit #5 "
            "is not one this page offers (the samples and the list of digits max and avg "
            "answer differently).")
        assert fm.prediction("max") == "no drawing yet"
        fm.page.route("**/max-avg.json", lambda route: route.fulfill(status=503, body=""))
        fm.page.goto(f"{server_url}/?digit={digit['index']}")
        fm.page.wait_for_selector("#error:not([hidden])")
        assert fm.page.inner_text("#error-text") == (
            "The address could not be followed in full: the list of digits max and avg answer "
            f"differently, which #{digit['index']} may be in, could not be loaded (503).")
        fm.page.unroute("**/max-avg.json")
        fm.page.goto(f"{server_url}/?input=AAAA")
        fm.page.wait_for_selector("#error:not([hidden])")
        assert fm.page.inner_text("#error-text") == (
            "The address could not be followed in full: input=AAAA is not the 784 levels a "
            "link holds (cut short when copied?).")
        fm.page.goto(f"{server_url}/?input=")
        fm.page.wait_for_selector("#error:not([hidden])")
        assert fm.page.inner_text("#error-text") == (
            "The address could not be followed in full: input= is empty, where a link holds "
            "the 784 levels the networks saw (cut short when copied?).")
        cut = base64.urlsafe_b64encode(bytes(700)).decode()
        fm.page.goto(f"{server_url}/?input={cut}")
        fm.page.wait_for_selector("#error:not([hidden])")
        assert fm.page.inner_text("#error-text") == (
            "The address could not be followed in full: input=AAAAAAAAAAAAAAAA… (936 characters) "
            "is not the 784 levels a link holds (cut short when copied?).")
        # the page goes on: a sample picked is shown, and the address says it alone
        fm.after_paint(lambda: fm.page.click('button[data-digit="0"]'), source="upload")
        wait_query(fm, "digit=0")
        # padded base64url, as Python writes it, is read too
        padded = base64.urlsafe_b64encode(fm.input_pixels().tobytes()).decode()
        assert padded.endswith("=")
        fm.page.goto(f"{server_url}/?input={padded}")
        fm.page.wait_for_function("() => location.search.startsWith('?input=')")
        fm.page.wait_for_selector("#input28[data-painted]", state="attached")
        fm.idle()
        assert fm.page.is_hidden("#error")

        # a sample picked while a linked digit's list is on its way stays, and the link's
        # nudges are not made on it
        fm.page.route("**/max-avg.json", lambda route: fm.page.wait_for_timeout(1500)
                      or route.continue_())
        picked_first(fm, f"{server_url}/?digit={digit['index']}&dx=3", 1)
        fm.page.unroute("**/max-avg.json")

        # ... and one picked while the linked sample's own maps are on their way
        slow = [True]

        def first_slow(route: Any) -> None:
            if slow and "featuremaps?" in route.request.url:
                slow.clear()
                fm.page.wait_for_timeout(1500)
            route.continue_()

        fm.page.route("**/api/v1/**", first_slow)
        picked_first(fm, f"{server_url}/?digit=18&dx=3", 2)
    finally:
        context.close()
    assert not fm.errors, fm.errors


# The page's clock stopped before a change: that change's address is written, the next one's
# put off to LINK_MS after it, a time that never comes, however slow this machine is
HOLD_WRITES = "() => { const now = performance.now(); performance.now = () => now; }"


def test_a_reload_before_the_address_is_written_opens_what_was_shown(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by a review: the address is written at most every 350 ms, and a reload before
    the write brought back the input shown before. The page keeps the address it was to
    write as it goes, and opens that on a reload; opened anew, the address is read as it is,
    and a link whose maps have not come yet is kept as it is (a second review)."""
    context, fm = reopened(browser, api, f"{server_url}/?digit=2", permissions=CLIPBOARD)
    try:
        page = fm.page
        page.evaluate(HOLD_WRITES)
        fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
        wait_query(fm, "digit=18")
        fm.after_paint(lambda: page.click('button[data-digit="0"]'), source="upload")
        assert query(fm) == {"digit": ["18"]}  # the write is still to come
        # Copy link copies what is shown, not the address before it (a review)
        page.click("#copy-link")
        page.wait_for_function("() => document.getElementById('link-status').textContent")
        assert parse_qs(urlsplit(page.evaluate("navigator.clipboard.readText()")).query) == {
            "digit": ["0"]}
        page.reload()
        ready(fm)
        assert query(fm) == {"digit": ["0"]}
        assert page.inner_text("#picked").startswith("MNIST test digit #0:")
        # the same address opened anew (typed, or a link to it) is what it says
        page.evaluate(HOLD_WRITES)
        fm.after_paint(lambda: page.click('button[data-digit="2"]'), source="upload")
        wait_query(fm, "digit=2")
        fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
        assert query(fm) == {"digit": ["2"]}
        page.goto(f"{server_url}/?digit=2")
        ready(fm)
        assert query(fm) == {"digit": ["2"]}
        assert page.inner_text("#picked").startswith("MNIST test digit #2:")
        # a reload while a link's maps are still to come keeps the link
        page.route("**/api/v1/featuremaps*", lambda route: None)  # never answered
        page.goto(f"{server_url}/?digit=18&norm=layer")
        page.wait_for_selector("body[data-ready]", state="attached")
        page.wait_for_timeout(500)
        page.unroute("**/api/v1/featuremaps*")
        page.reload()
        ready(fm)
        assert query(fm) == {"digit": ["18"], "norm": ["layer"]}
        assert page.inner_text("#picked").startswith("MNIST test digit #18:")
    finally:
        context.close()
    assert not fm.errors, fm.errors


def test_the_page_works_where_the_browser_refuses_its_session_storage(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by a review: with site data blocked, reading sessionStorage throws, and the page
    never started. It goes on without what it keeps there across a reload."""
    context, fm = new_page(browser, api, viewport={"width": 1280, "height": 900})
    try:
        page = fm.page
        page.add_init_script("""
          Object.defineProperty(window, 'sessionStorage', {
            get() { throw new DOMException('The operation is insecure.', 'SecurityError'); },
          });""")
        page.goto(f"{server_url}/?digit=18")
        ready(fm)
        fm.after_paint(lambda: fm.stroke(SEVEN, steps=6), source="pad")
        page.wait_for_function("() => location.search.startsWith('?input=')")
        drawn = query(fm)
        page.reload()
        ready(fm)
        # the drawing's levels come back from the address, without its strokes, which the
        # page could not keep, and it says so
        assert query(fm) == drawn
        assert page.inner_text("#picked") == ("As the networks saw it: the 28x28 input the "
                                              "page's address holds, scaled up to the pad.")
    finally:
        context.close()
    assert not fm.errors, fm.errors
