"""What the page offers beyond the pointer and the eye: reading order, names, contrast."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import (
    DIGITS,
    FeatureMapsPage,
    answer_shown,
    css_value,
    pixels_body,
    sample_body,
)

pytestmark = pytest.mark.browser

# the page's panels in document order, each by its id (the maps' by its heading's), and
# whether each lies below the one before it on the screen
PANELS = """() => {
  const panels = [...document.querySelectorAll('main section.panel')];
  return {
    order: panels.map((p) => p.id || p.getAttribute('aria-labelledby')),
    inSidebar: panels.filter((p) => p.parentElement.classList.contains('sidebar')).map((p) => p.id),
    downward: panels.slice(1).every((p, i) =>
      p.getBoundingClientRect().top >= panels[i].getBoundingClientRect().bottom
      || p.parentElement !== panels[i].parentElement),
  };
}"""
LATER = ["shift-panel", "why-panel", "summary-panel"]


def test_the_moved_panels_are_read_where_they_are_seen(fm: FeatureMapsPage) -> None:
    """In one column the nudge panel shows after the maps, and on a tablet held upright the
    input the networks see does too, so that conv1's maps share a screen with the pad (a
    teacher's review). Tab and screen readers follow the document, so they are moved there
    in the document, and back when the page widens."""
    wide = {"order": ["draw-panel", "seen-panel", "nudge-panel", "maps-h", *LATER],
            "inSidebar": ["draw-panel", "seen-panel", "nudge-panel"], "downward": True}
    assert fm.page.evaluate(PANELS) == wide
    fm.page.focus("#nudge")  # a moved element loses focus unless it is given back
    places = [
        ((800, 900), ["draw-panel", "maps-h", "seen-panel", "nudge-panel", *LATER]),  # tall
        ((560, 900), ["draw-panel", "seen-panel", "maps-h", "nudge-panel", *LATER]),  # narrow
        ((800, 480), ["draw-panel", "seen-panel", "maps-h", "nudge-panel", *LATER]),  # short
    ]
    for (width, height), order in places:
        fm.page.set_viewport_size({"width": width, "height": height})
        # the media queries' change events move them, once the resize has been seen
        fm.page.wait_for_function(f"() => ({PANELS})().order.join() === {order!r}.join()")
        sidebar = order[:order.index("maps-h")]  # in one column, shown in turn as it holds them
        assert fm.page.evaluate(PANELS) == {"order": order, "inSidebar": sidebar,
                                            "downward": True}, (width, height)
        assert fm.page.evaluate("document.activeElement.id") == "nudge"
        # Tab from the last map canvas reaches the nudge control next
        fm.page.locator("#maps canvas.map").last.focus()
        fm.page.keyboard.press("Tab")
        assert fm.page.evaluate("document.activeElement.id") == "nudge"
    fm.page.set_viewport_size({"width": 1280, "height": 900})
    fm.page.wait_for_function(f"() => ({PANELS})().order.join() === {wide['order']!r}.join()")
    assert fm.page.evaluate(PANELS) == wide


def test_digits_on_the_shift_lab_colours_are_legible(fm: FeatureMapsPage) -> None:
    """A flipped cell's class is written in black or white, whichever contrasts more with
    its colour: WCAG's 4.5:1 for normal text holds on every colour of the scale."""
    ratios: list[float] = fm.page.evaluate("""async () => {
      const { colorTable, textOn } = await import('/static/js/colormap.js');
      const stops = JSON.parse(document.getElementById('config').textContent).colormap;
      const table = colorTable(stops);
      const lum = ([r, g, b]) => [r, g, b].map((v) => {
        const c = v / 255;
        return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      }).reduce((s, c, i) => s + [0.2126, 0.7152, 0.0722][i] * c, 0);
      return table.map((rgb, level) => {
        const text = textOn(table, level) === '#000' ? 0 : 1;
        const [a, b] = [lum(rgb), text].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);
      });
    }""")
    assert len(ratios) == 256
    assert min(ratios) >= 4.5, min(ratios)


def test_the_bars_and_scales_stay_in_forced_colours(browser: Any, server_url: str) -> None:
    """Windows high contrast drops backgrounds; the probability bars and the colour scales
    are data and keep theirs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  forced_colors="active")
    try:
        page = context.new_page()
        page.goto(server_url + "/")
        page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
        assert page.evaluate("matchMedia('(forced-colors: active)').matches")
        fill = page.locator(".bars .fill").first
        assert fill.evaluate("(e) => getComputedStyle(e).forcedColorAdjust") == "none"
        # in the system's highlight colour, which stands out from the track under it (a test
        # audit: bars as white as their track passed a check that they were not transparent)
        colours = fill.evaluate("""(e) => ({ fill: getComputedStyle(e).backgroundColor,
          track: getComputedStyle(e.parentElement).backgroundColor })""")
        highlight = css_value(page, "background-color", "Highlight")
        assert colours["fill"] == highlight != colours["track"], (colours, highlight)
        bar = page.locator(".legend-bar .bar").first
        assert bar.evaluate("(e) => getComputedStyle(e).backgroundImage").startswith(
            "linear-gradient")
    finally:
        context.close()


def test_the_keyboard_skips_to_the_maps_and_a_grids_keys_stay_in_it(
        fm: FeatureMapsPage) -> None:
    """Found by a keyboard review: the maps were 28 Tabs from the top, and End on a focused
    map scrolled the page 4,592 px away from it. The first Tab reaches a skip link, which
    moves the focus to the maps without writing it into the address; in a map's grid of
    channels Home and End go to its row's ends, Page Up and Down to its column's."""
    page = fm.page
    address = page.url
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "skip-link"
    assert page.locator("#skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "maps-h"
    assert page.url == address
    canvas = page.locator('canvas.map[data-net="max"][data-layer="pool1"]')
    canvas.focus()
    scrolled = page.evaluate("() => window.scrollY")
    chosen = []
    for key in ("ArrowRight", "End", "PageDown", "Home", "PageUp"):
        page.keyboard.press(key)
        chosen.append(int(canvas.get_attribute("data-chosen") or -1))
    assert chosen == [0, 7, 31, 24, 0]  # 32 channels, 8 a row at 1280 px
    assert page.evaluate("() => window.scrollY") == scrolled
    # the first key may be End: it goes on from channel 0 (a review: it chose 0 itself)
    conv2 = page.locator('canvas.map[data-net="avg"][data-layer="conv2"]')
    conv2.focus()
    page.keyboard.press("End")
    assert conv2.get_attribute("data-chosen") == "15"  # 64 channels, 16 a row
    # the shift lab's grids before it has an answer: the keys do nothing, nor scroll (a
    # review: End there still scrolled the page 3,000 px)
    heat = page.locator('canvas.heat[data-net="max"]')
    heat.focus()
    scrolled = page.evaluate("() => window.scrollY")
    for key in ("End", "Home", "PageDown", "ArrowDown"):
        page.keyboard.press(key)
    assert page.evaluate("() => window.scrollY") == scrolled
    # what the lab found is there to be read, not spoken at every change (a review: after a
    # nudge it was the third message of one keypress), and the beside choice says its keys
    assert page.get_attribute("#shift-said", "aria-live") is None
    described = page.get_attribute("#beside", "aria-describedby")
    assert page.locator(f"#{described}").text_content() == (
        "Arrow keys pick a network, Enter shows it beside the first; the page opens again with it.")


def test_tables_and_canvases_are_named(fm: FeatureMapsPage) -> None:
    page = fm.page
    n = len(fm.api.models()["models"])
    assert page.locator("table.compare caption").text_content() == (
        f"The {n} networks side by side: shapes, parameters, receptive field, accuracy and "
        "shift consistency")
    # a Keras summary's layer names head their rows
    heads = page.locator('.summary[data-net="max"] tbody th[scope="row"]').all_inner_texts()
    assert heads[0] == "conv1 (Conv2D)" and heads[-1] == "dense2 (Dense)"
    assert page.get_attribute("#pad", "role") == "img"
    assert "pick a sample digit" in (page.get_attribute("#pad", "aria-label") or "")
    for canvas in page.locator("canvas.heat").all():
        assert canvas.get_attribute("role") == "application"
        assert canvas.get_attribute("aria-roledescription") == "heat map"

    # the pad and the two 28x28 inputs say what they show (a keyboard review: their names
    # never did, and the nudged one said "as nudged" before any nudge)
    def described() -> dict[str, str | None]:
        nodes = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
        return {n["name"]["value"]: n.get("description", {}).get("value") for n in nodes
                if n.get("role", {}).get("value") == "image" and "name" in n
                and n["name"]["value"].startswith(("Drawing pad", "The 28x28"))}

    pad = page.get_attribute("#pad", "aria-label")
    seen, nudged = "The 28x28 image the networks see", \
        "The 28x28 input the networks see, moved by the nudges"
    assert described() == {pad: None, seen: None, nudged: None}
    fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
    sample = "MNIST test digit #18: labelled 3."
    assert described() == {pad: sample, seen: sample, nudged: sample}
    fm.after_paint(lambda: page.click('#nudge button[data-dir="right"]'), source="nudge")
    assert (described()[nudged] or "").startswith(
        f"{sample} The input is moved 1 px right (zero fill).")


def test_touch_targets_are_a_finger_wide_on_a_phone(phone: FeatureMapsPage) -> None:
    """On a touch screen the samples and tools are at least 44 CSS px each way (WCAG's
    enhanced target size), the samples in two rows of five; a later review found the brush
    and colour-scale choices (28 px tall), the nudge buttons (40) and the disclosure of the
    ten numbers (18); a teacher's, the choice of the network beside max (32)."""
    page = phone.page
    assert page.evaluate("matchMedia('(pointer: coarse)').matches")
    sizes = page.evaluate("""() => [...document.querySelectorAll(
        '.digit-pick, #undo, #clear, label.file, #error-dismiss, .choice label, #nudge button, '
        + '.pred-all summary, .inspector .row-buttons button, #beside')].map((e) => {
      const hidden = e.closest('[hidden]');
      if (hidden) hidden.hidden = false;  // the banner's button, measured as it would show
      const r = e.getBoundingClientRect();
      if (hidden) hidden.hidden = true;
      return [e.id || e.className, r.width, r.height, r.top];
    })""")
    # the map size is not offered on a phone: its units would be under a pixel; nor is the
    # enlarged channel's swap to the network beside shown in the closed panel (below)
    offered = [s for s in sizes if s[1] or s[2]]
    assert len(sizes) - len(offered) == 3
    sizes = offered
    # 5 choices: brush, colour scale; a review found the channel steps 36 px tall
    assert len(sizes) == 10 + 4 + 5 + 5 + 2 + 2 + 1
    small = [s for s in sizes if s[1] < 44 or s[2] < 44]
    assert not small, small
    rows = sorted({round(top) for name, _, _, top in sizes if name == "digit-pick"})
    assert len(rows) == 2
    # the swap, in a conv1 channel's panel: as large as the steps beside it
    phone.after_paint(lambda: page.click('.digit-pick[data-digit="0"]'), source="upload")
    canvas = page.locator('canvas.map[data-net="max"][data-layer="conv1"]')
    canvas.scroll_into_view_if_needed()
    page.touchscreen.tap(*phone.map_point("max", "conv1", 4, 13, 13))
    swap = page.locator("#inspector button.swap")
    swap.wait_for(state="visible")
    box = swap.bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44, box


def test_the_intro_speaks_of_hover_where_there_is_one_and_of_taps_on_a_phone(
        fm: FeatureMapsPage, phone: FeatureMapsPage) -> None:
    """Found by a review: a phone was told to hover a map, which it cannot."""
    desk = fm.page.locator(".masthead p").inner_text()
    assert "Hover a map to trace what it reads; click it to enlarge a channel." in desk
    assert "Tap" not in desk
    touch = phone.page.locator(".masthead p").inner_text()
    assert "Tap a map to enlarge a channel and trace what it reads." in touch
    assert "Hover" not in touch
    # and so does the readout's hint (a later review)
    assert fm.page.locator("#readout").inner_text() == (
        "Hover a unit of any map to see what it reads; the input pixels it sees light up here.")
    # on a phone, where "here" is screens above the maps, the enlarged channel a tap opens
    # is named as where it is said (a phone review)
    assert phone.page.locator("#readout").inner_text() == (
        "Tap a unit of any map to see what it reads, in its enlarged channel and here, the "
        "input pixels it sees lit up.")


def test_a_phone_says_its_pool_maps_are_drawn_as_large_as_the_convs(
        phone: FeatureMapsPage) -> None:
    """Found by a student's review: a phone has no Map size choice, so pool1's grid is as
    large as conv1's under a note saying it halves each side. The note says both sizes, and
    not the choice it does not offer."""
    note = phone.page.locator('.maps-row[data-layer="pool1"] .layer-head .note')
    said = ("Halves each side. Each unit sees 4x4 input px. Drawn fitted, its maps look as large "
            "as conv1's, though they have 13 units a side to its 26 (each map still covers the "
            "whole input).")
    assert note.inner_text().endswith(said)
    # a link that asks for the maps to scale, shared from a desktop, leaves a phone's fitted
    # (a review: the sentence was hidden then)
    phone.page.goto(phone.page.url.split("?")[0] + "?size=scale")
    phone.page.wait_for_selector("body[data-ready]")
    assert phone.page.locator("#maps").get_attribute("data-to-scale") is not None
    assert note.inner_text().endswith(said)


def test_a_wide_table_on_a_phone_shows_that_it_scrolls(phone: FeatureMapsPage) -> None:
    """Found by a review: Why downsample? showed about one column of five with no sign of
    the rest. The scroll box draws a light edge on its right (a background that stays put),
    covered by one that scrolls with the table once its last column is in view."""
    box = phone.page.locator("#why-panel .scroll").first
    box.scroll_into_view_if_needed()
    sizes = box.evaluate("(b) => [b.scrollWidth, b.clientWidth]")
    assert sizes[0] > sizes[1]  # it does scroll at this width
    image = box.evaluate("(b) => getComputedStyle(b).backgroundAttachment")
    assert image == "local, scroll"


def test_on_a_phone_the_answers_show_under_the_pad_and_the_nudge_buttons(
        fm: FeatureMapsPage, phone: FeatureMapsPage) -> None:
    """Found by a review: on a phone the predictions start two screens below the pad, and a
    nudge that flips one showed nothing where the student looks. One column repeats them in
    a line under the pad and under the nudge buttons; two columns, with the predictions in
    view over the maps, do not."""
    sample = sample_body(DIGITS / "0018_label3.png")
    expected = phone.api.featuremaps(sample, "application/json")["models"]

    def line(models: dict[str, Any]) -> str:
        return " · ".join(f"{net} {models[net]['prediction']} "
                          f"({answer_shown(max(models[net]['probabilities']))})"
                          for net in ("max", "avg"))

    phone.after_paint(lambda: phone.page.tap('button[data-digit="18"]'), source="upload")
    pad = phone.page.locator("#pad-pred")
    assert pad.is_visible() and pad.inner_text() == line(expected)
    # it sits right under the pad, in the first screen
    assert (pad.bounding_box() or {"y": 1e9})["y"] < 667
    button = phone.page.locator('#nudge button[data-dir="left"]')
    button.scroll_into_view_if_needed()
    phone.after_paint(button.tap, source="nudge")
    nudged = phone.api.featuremaps(pixels_body(phone.input_pixels()),
                                   "application/json")["models"]
    assert phone.page.locator("#nudge-pred").inner_text() == "now " + line(nudged)
    # the pad shows the sample unmoved: its line says the answers are the moved input's
    assert pad.inner_text() == "moved 1 px left: " + line(nudged)
    phone.after_paint(lambda: phone.page.tap("#undo"), source="undo")
    assert pad.inner_text() == line(expected)
    # nudged, then another sample: its line has no nudge in it (a review: the last input's
    # nudges were said before the new sample's answers)
    phone.after_paint(button.tap, source="nudge")
    assert pad.inner_text().startswith("moved 1 px left: ")
    seven = phone.api.featuremaps(sample_body(DIGITS / "0000_label7.png"),
                                  "application/json")["models"]
    sample = phone.page.locator('button[data-digit="0"]')
    sample.scroll_into_view_if_needed()
    phone.after_paint(sample.tap, source="upload")
    assert pad.inner_text() == line(seven)
    fm.after_paint(lambda: fm.page.click('button[data-digit="18"]'), source="upload")
    assert not fm.page.locator("#pad-pred").is_visible()
    assert not fm.page.locator("#nudge-pred").is_visible()


AXE_RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                   "best-practice"]}}


@pytest.mark.parametrize(("viewport", "projector"),
                         [((1280, 900), False), ((375, 812), False), ((1280, 800), True)],
                         ids=["desktop", "phone", "projector"])
def test_axe_finds_no_violation_with_everything_open(browser: Any, server_url: str,
                                                     viewport: tuple[int, int],
                                                     projector: bool) -> None:
    """axe-core's WCAG 2.1 A/AA and best-practice rules over the page as a student leaves it:
    a digit drawn, every disclosure open, a conv2 channel enlarged; and in the projector
    view, whose light colours are all its own (its contrast among them). Found by the first
    run: on a phone the keyboard could not scroll Why downsample?'s table to its hidden
    columns, and the ten probabilities as numbers pushed the page sideways."""
    from axe_playwright_python.sync_playwright import Axe

    from tests.browser.conftest import Api, open_page, projector_state

    width, height = viewport
    pages = open_page(browser, server_url, Api(server_url),
                      viewport={"width": width, "height": height}, has_touch=width < 500,
                      storage_state=projector_state(server_url) if projector else None)
    fm = next(pages)
    try:
        page = fm.page
        assert (page.get_attribute("html", "data-view") == "projector") == projector
        fm.after_paint(lambda: fm.stroke([(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]))
        page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        page.locator("#disagree .disagree-pick .said").nth(50).wait_for()  # the list came
        fm.idle()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.locator('canvas.map[data-net="max"][data-layer="conv2"]').scroll_into_view_if_needed()
        page.mouse.click(*fm.map_point("max", "conv2", 5, 4, 4))
        page.locator("#inspector").wait_for(state="visible")
        results = Axe().run(page, options=AXE_RULES)
        assert results.violations_count == 0, results.generate_report()
        # the wide table is reachable from the keyboard exactly where it scrolls
        box = page.locator("#why-panel .scroll")
        scrolls = box.evaluate("(b) => b.scrollWidth > b.clientWidth")
        assert box.get_attribute("tabindex") == ("0" if scrolls else None)
        assert scrolls == (width < 500)
    finally:
        next(pages, None)  # closes the context and checks the console


def test_the_message_banner_hides_no_focused_control_and_escape_dismisses_it(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by an accessibility review: with a message showing, Shift+Tab scrolled controls
    to the window's top, under the sticky banner (0% of "More on the colours" in view), and
    only its × took the banner away. Tab now scrolls clear of it, and Escape dismisses it,
    once an enlarged channel, which Escape closes first, is closed."""
    from tests.browser.conftest import opened

    with opened(browser, server_url, api, "/?digit=0",
                viewport={"width": 1366, "height": 768}) as fm:
        page = fm.page
        fm.upload("notes.txt", b"these are not pixels", "text/plain")
        banner = page.locator("#error")
        banner.wait_for(state="visible")
        # the control before the focus lies at the window's top, under the banner: in the
        # window, so Shift+Tab did not scroll it
        summary = page.locator("#legend-more summary")
        page.evaluate("() => document.querySelector('input[name=norm]:checked')"
                      ".focus({ preventScroll: true })")
        summary.evaluate("s => window.scrollTo(0, s.getBoundingClientRect().top + scrollY - 10)")
        page.keyboard.press("Shift+Tab")
        assert summary.evaluate("s => s === document.activeElement")
        under = banner.bounding_box()["y"] + banner.bounding_box()["height"]
        assert summary.bounding_box()["y"] >= under + 4, (summary.bounding_box(), under)
        # Escape: the enlarged channel first, then the banner; the focus stays where it is
        canvas = page.locator('canvas.map[data-net="max"][data-layer="pool1"]')
        canvas.focus()
        page.keyboard.press("Enter")
        page.locator("#inspector").wait_for(state="visible")
        # held down: the key's repeats do not go on to dismiss the banner (a review)
        page.keyboard.down("Escape")
        page.keyboard.down("Escape")
        page.keyboard.up("Escape")
        assert page.locator("#inspector").is_hidden() and banner.is_visible()
        focused = page.evaluate("() => document.activeElement.dataset.layer")
        page.keyboard.press("Escape")
        assert banner.is_hidden()
        assert page.evaluate("() => document.activeElement.dataset.layer") == focused == "pool1"
        assert page.get_attribute("#error-dismiss", "aria-keyshortcuts") == "Escape"


def test_tab_reaches_the_nudge_buttons_in_reading_order(fm: FeatureMapsPage) -> None:
    """Found by an accessibility review: ↺, in the middle of the four arrows, was reached
    after ↓. Tab goes as the eye reads: ↑, ←, ↺, →, ↓."""
    fm.after_paint(lambda: fm.page.click('button[data-digit="0"]'), source="upload")
    fm.after_paint(lambda: fm.page.click('#nudge button[data-dir="left"]'), source="nudge")
    fm.page.focus("#nudge")
    reached = []
    for _ in range(5):
        fm.page.keyboard.press("Tab")
        reached.append(fm.page.evaluate("() => document.activeElement.textContent"))
    assert reached == ["↑", "←", "↺", "→", "↓"]
    # each in the grid's place its class gives it: the order is the page's, not the layout's
    places = fm.page.evaluate("""() => [...document.querySelectorAll('#nudge button')].map(
        (b) => { const r = b.getBoundingClientRect(); return [b.textContent, r.x, r.y]; })""")
    by_eye = sorted(places, key=lambda p: (round(p[2]), p[1]))
    assert [p[0] for p in by_eye] == reached


def test_the_list_of_51_digits_is_one_tab_stop_walked_with_the_arrow_keys(
        fm: FeatureMapsPage) -> None:
    """Found by an accessibility review: each of the 51 digits was a Tab stop of its own, 52
    Tabs from the list's summary to the rest of the page. The list is one stop (the digit put
    on the pad last, or one focused since, else the first); the arrow keys, Home and End go
    from digit to digit."""
    page = fm.page
    page.click("#disagree summary")
    page.locator(".disagree-pick").nth(50).wait_for()
    assert page.locator('.disagree-pick[tabindex="0"]').count() == 1
    # each row a group named by its line (a later review: the groups went unsaid)
    groups = page.get_by_role("group", name=re.compile(r": \d+ \(under each: "))
    assert [groups.nth(i).get_attribute("aria-labelledby") for i in range(groups.count())] == [
        "disagree-group-max", "disagree-group-avg", "disagree-group-neither"]
    assert page.get_by_role("group", name=re.compile("^max right, avg wrong: 31 ")).get_by_role(
        "button").count() == 31
    index = "() => document.activeElement.dataset.index ?? document.activeElement.tagName"
    page.focus("#disagree summary")
    page.keyboard.press("Tab")
    assert page.evaluate(index) == "18"  # the first
    walked = []
    for key in ("ArrowRight", "ArrowRight", "ArrowLeft", "End", "Home", "ArrowLeft"):
        page.keyboard.press(key)
        walked.append(page.evaluate(index))
        # the keys move the focus, not the page: the digit focused is in view
        assert page.evaluate("() => { const r = document.activeElement.getBoundingClientRect();"
                             " return r.top >= 0 && r.bottom <= innerHeight + 1; }"), key
    assert walked == ["359", "449", "359", "6572", "18", "18"]
    # Down goes to the row below, to the digit nearest across; Up comes back
    here = page.evaluate("() => document.activeElement.getBoundingClientRect().toJSON()")
    page.keyboard.press("ArrowDown")
    below = page.evaluate("() => document.activeElement.getBoundingClientRect().toJSON()")
    assert below["top"] > here["bottom"] and abs(below["left"] - here["left"]) < here["width"]
    page.keyboard.press("ArrowUp")
    assert page.evaluate(index) == "18"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")  # past the list at once
    assert not page.evaluate("() => document.activeElement.classList.contains('disagree-pick')")
    page.keyboard.press("Shift+Tab")  # back to the digit last focused
    assert page.evaluate(index) == "359"
    # Enter shows it, and the stop stays there
    fm.after_paint(lambda: page.keyboard.press("Enter"), source="upload")
    assert page.locator('.disagree-pick[tabindex="0"]').get_attribute("data-index") == "359"
    described = page.get_attribute('.disagree-pick[data-index="359"]', "aria-describedby")
    assert page.locator(f"#{described}").text_content() == (
        "The arrow keys go from digit to digit; Tab goes on past the list.")


def test_the_sample_on_the_pad_is_marked_among_the_ten(fm: FeatureMapsPage) -> None:
    """Found by a keyboard review: nothing but the line under the samples said which was on
    the pad; the list of disagreements marks its digit (aria-current, outlined)."""
    page = fm.page

    def current() -> list[str]:
        marked: list[str] = page.eval_on_selector_all(
            ".digit-pick[aria-current='true']", "bs => bs.map((b) => b.dataset.digit)")
        return marked

    assert current() == []
    fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
    assert current() == ["18"]
    # outlined in the accent, wide enough to see (a test audit: an outline 0 px wide passed a
    # check of its style alone)
    assert page.eval_on_selector('button[data-digit="18"]', """b => {
      const s = getComputedStyle(b);
      return [s.outlineStyle, s.outlineWidth, s.outlineColor];
    }""") == ["solid", "2px", css_value(page, "color", "var(--accent)")]
    assert page.eval_on_selector('button[data-digit="7"]',
                                 "b => getComputedStyle(b).outlineStyle") == "none"
    fm.after_paint(lambda: page.click('#nudge button[data-dir="right"]'), source="nudge")
    assert current() == ["18"]  # moved, still the sample
    fm.after_paint(lambda: page.click('button[data-digit="7"]'), source="upload")
    assert current() == ["7"]
    fm.after_paint(lambda: fm.stroke([(0.3, 0.3), (0.7, 0.7)]))
    assert current() == []  # drawn over: no longer the sample as labelled
    fm.after_paint(lambda: page.click("#undo"), source="undo")
    assert current() == ["7"]
    page.click("#clear")
    assert current() == []
