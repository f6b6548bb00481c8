"""Projector view, the masthead's toggle (page.css, static/js/main.js): dark text on white,
larger on a wide screen. Asked for by a teacher's review: a projector washed the dark page
out to grey, and its 12-15 px text could not be read from the back of a room."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import FeatureMapsPage, opened, projector_state

DARK = {"background": "rgb(18, 20, 25)", "text": "rgb(232, 233, 236)"}
LIGHT = {"background": "rgb(255, 255, 255)", "text": "rgb(17, 19, 24)"}

pytestmark = pytest.mark.browser


def looks(fm: FeatureMapsPage) -> dict[str, Any]:
    """What the view sets: the page's colours, its text size and the sidebar's width."""
    found: dict[str, Any] = fm.page.evaluate("""() => {
      const body = getComputedStyle(document.body);
      return { background: body.backgroundColor, text: body.color, size: body.fontSize,
               sidebar: document.querySelector('.sidebar').getBoundingClientRect().width,
               pressed: document.getElementById('projector').getAttribute('aria-pressed'),
               view: document.documentElement.dataset.view ?? null,
               wide: document.documentElement.scrollWidth };
    }""")
    return found


def view_cookie(context: Any) -> list[dict[str, Any]]:
    return [c for c in context.cookies() if c["name"] == "featuremaps-view"]


def test_projector_view_is_light_and_larger_is_kept_by_the_browser_and_not_by_links(
        browser: Any, server_url: str, api: Any, artifacts: Path) -> None:
    with opened(browser, server_url, api, viewport={"width": 1600, "height": 900}) as fm:
        page = fm.page
        assert looks(fm) == {**DARK, "size": "15px", "sidebar": 350, "pressed": "false",
                             "view": None, "wide": 1600}
        fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
        page.wait_for_function("() => location.search === '?digit=18'")
        lab = 'figure.heat-fig[data-net="max"] canvas'
        page.wait_for_selector(f"{lab}[data-painted]", state="attached")
        before = fm.canvas_rgba(lab)
        widths = ("() => Array.from(document.querySelectorAll('figure.heat-fig'), "
                  "(f) => f.getBoundingClientRect().width)")
        assert page.evaluate(widths) == [240, 240, 240]
        page.click("#projector")
        # the shift lab's grids a fifth of the window wide, up to 400 px (a teacher's review:
        # at 1920 px their axis labels were 10 px high, beside 900 px of empty row)
        assert page.evaluate(widths) == [320, 320, 320]
        # a quarter larger at 1600 px (root 20 px, body 0.95rem), the sidebar as much wider
        assert looks(fm) == {**LIGHT, "size": "19px", "sidebar": 440, "pressed": "true",
                             "view": "projector", "wide": 1600}
        (cookie,) = view_cookie(page.context)
        assert cookie["value"] == "projector"
        assert cookie["sameSite"] == "Lax"
        assert cookie["expires"] > page.evaluate("Date.now() / 1000") + 360 * 86400
        page.wait_for_timeout(400)  # past the address's least time between writes
        assert page.evaluate("location.search") == "?digit=18"  # a link does not carry it
        # the shift lab's axes, written on the panel, are written again in its colours; its
        # cells, on the colour scale, do not change (a review: the lab kept the dark view's
        # light grey axes, and drew its flips in the light view's dark accent on purple)
        after = fm.canvas_rgba(lab)
        margin = before.shape[0] * 18 // (18 + 9 * 24)  # canvas pixels of the axes' margin
        assert (before[:margin] != after[:margin]).any()
        assert (before[margin + 2:, margin + 2:] == after[margin + 2:, margin + 2:]).all()
        # marks over the maps keep their colours too
        fm.hover_unit("max", "pool1", 2, 6, 6)
        assert page.evaluate("getComputedStyle(document.querySelector('.mark-window'))"
                             ".outlineColor") == "rgb(255, 79, 109)"
        # Why downsample?'s table fits the column at this size: nothing scrolls
        assert page.evaluate("(() => { const b = document.querySelector('#why-panel .scroll');"
                             " return b.scrollWidth - b.clientWidth; })()") == 0
        page.screenshot(path=str(artifacts / "projector-1600.png"))

        # a reload comes light from the server, before any script runs, with the same digit
        response = page.reload()
        assert '<html lang="en" data-view="projector">' in response.text()
        page.wait_for_selector("body[data-ready]", state="attached")
        fm.idle()
        assert looks(fm)["view"] == "projector"
        assert fm.input_pixels().any()

        page.click("#projector")
        assert looks(fm) == {**DARK, "size": "15px", "sidebar": 350, "pressed": "false",
                             "view": None, "wide": 1600}
        assert view_cookie(page.context) == []
        assert '<html lang="en">' in page.reload().text()


def test_on_a_1024_projector_the_text_grows_little_and_the_maps_keep_their_room(
        browser: Any, server_url: str, api: Any, artifacts: Path) -> None:
    """An XGA projector's pixels are already large on the wall: the text grows with the
    screen's width, and the sidebar stays as narrow as the usual page's, so conv1's maps
    still start on the first screen."""
    with opened(browser, server_url, api, viewport={"width": 1024, "height": 768},
                storage_state=projector_state(server_url)) as fm:
        fm.after_paint(lambda: fm.page.click('button[data-digit="18"]'), source="upload")
        seen = looks(fm)
        assert (seen["background"], seen["view"], seen["sidebar"], seen["wide"]) == \
            (LIGHT["background"], "projector", 340, 1024)
        assert seen["size"] == "15.58px"  # 0.95 of 0.625vw + 10 px = 16.4 px
        top = fm.page.locator('canvas.map[data-net="max"][data-layer="conv1"]').bounding_box()
        assert top is not None and top["y"] < 768 - 40
        # the two buttons share the masthead's first line with the title
        boxes = [fm.page.locator(s).bounding_box() for s in ("h1", "#copy-link", "#projector")]
        assert all(b is not None and b["y"] < 60 for b in boxes), boxes
        assert fm.page.evaluate("(() => { const b = document.querySelector('#why-panel .scroll');"
                                " return b.scrollWidth - b.clientWidth; })()") == 0
        fm.page.screenshot(path=str(artifacts / "projector-1024.png"))


def test_a_phone_does_not_offer_it_but_can_turn_it_off(browser: Any, server_url: str,
                                                       api: Any) -> None:
    phone: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "has_touch": True,
                             "is_mobile": True}
    with opened(browser, server_url, api, **phone) as fm:
        assert not fm.page.locator("#projector").is_visible()
        assert fm.page.locator("#copy-link").is_visible()
    with opened(browser, server_url, api, **phone,
                storage_state=projector_state(server_url)) as fm:
        assert looks(fm)["wide"] == 390
        fm.page.focus("#projector")
        fm.page.keyboard.press("Enter")
        assert looks(fm)["view"] is None
        assert not fm.page.locator("#projector").is_visible()
        # the focus goes on to the button beside it, not back to the page's start
        assert fm.page.evaluate("document.activeElement.id") == "copy-link"
    # a desktop zoomed to 200% or 400% is as narrow, and keeps it (an accessibility review:
    # a low-vision teacher lost the light view)
    with opened(browser, server_url, api, viewport={"width": 320, "height": 400},
                device_scale_factor=4) as fm:
        assert fm.page.locator("#projector").is_visible()
        assert fm.page.evaluate("document.documentElement.scrollWidth") == 320


def test_on_a_wide_projector_the_table_and_the_fields_use_the_room(
        browser: Any, server_url: str, api: Any) -> None:
    """A teacher's review at 1920x1080: Why downsample?'s table, the thing pointed at, was in
    smaller type than the words around it, and the five figures of What one unit sees took
    less than half the column (165 px each: a pool's outline a few px on the wall)."""
    with opened(browser, server_url, api, viewport={"width": 1920, "height": 1080},
                storage_state=projector_state(server_url)) as fm:
        got = fm.page.evaluate("""() => {
          const box = document.querySelector('#why-panel .scroll');
          const figures = [...document.querySelectorAll('.field-canvas')]
            .map((c) => c.getBoundingClientRect());
          return {
            table: getComputedStyle(document.querySelector('table.compare')).fontSize,
            body: getComputedStyle(document.body).fontSize,
            scrolls: box.scrollWidth - box.clientWidth,
            row: document.querySelector('.field-row').clientWidth,
            widths: figures.map((f) => f.width),
            tops: figures.map((f) => Math.round(f.top)),
          };
        }""")
        assert got["table"] == got["body"] == "19px"  # 0.95 of the root's 20 px
        assert got["scrolls"] == 0
        # five across the row, each a fifth of it less the four 16 px gaps
        assert len(got["tops"]) == 5 and len(set(got["tops"])) == 1, got
        assert min(got["widths"]) >= (got["row"] - 4 * 16) / 5 - 2, got


SMALL_TEXT = """() => [...document.querySelectorAll('body *')].filter((e) => {
  if (e.closest('.visually-hidden')) return false;  // read out, not seen
  const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const box = e.getBoundingClientRect();
  return own && box.width && box.height && getComputedStyle(e).visibility !== 'hidden'
    && parseFloat(getComputedStyle(e).fontSize) < 16;
}).map((e) => `${e.tagName}.${e.className} ${getComputedStyle(e).fontSize}: `
  + e.textContent.trim().slice(0, 30))"""


def test_on_a_1280_projector_no_words_or_figures_are_under_16_px(
        browser: Any, server_url: str, api: Any, artifacts: Path) -> None:
    """A teacher's review at 1280x800: the pool unit's readout, the lesson's core, was 14.4
    px; the answers' digits, the map captions, the layer notes, the shift lab's readout, the
    channel's weights and the Keras summary 11-14.4 px. And 16 channels a row, pool2's maps
    were 17 px, 3 px a unit, in rows far taller than them: 8 a row in the projector view."""
    columns = """() => Object.fromEntries(
      [...document.querySelectorAll('canvas.map[data-net="max"]')]
        .map((c) => [c.dataset.layer, Number(c.dataset.columns)]))"""
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 800},
                storage_state=projector_state(server_url)) as fm:
        page = fm.page
        fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
        assert page.evaluate(columns) == dict.fromkeys(
            ("conv1", "pool1", "conv2", "pool2", "conv3"), 8)
        fm.hover_unit("max", "pool1", 2, 6, 6)
        page.wait_for_selector("#readout strong", state="attached")
        assert page.evaluate(SMALL_TEXT) == []
        page.mouse.click(*fm.map_point("max", "conv1", 1, 7, 16))
        page.locator("#inspector").wait_for(state="visible")
        page.wait_for_selector("table.filter-grid td", state="visible")
        assert page.evaluate(SMALL_TEXT) == []
        page.screenshot(path=str(artifacts / "projector-1280-conv1.png"))
        page.keyboard.press("Escape")
        fm.after_paint(lambda: page.click('#nudge button[data-dir="right"]'), source="nudge")
        assert page.evaluate(SMALL_TEXT) == []
        # Why downsample?'s table still fits its column: its row names wrap instead
        assert page.evaluate("(() => { const b = document.querySelector('#why-panel .scroll');"
                             " return b.scrollWidth - b.clientWidth; })()") == 0
        # the usual view, switched to on the page, lays the small maps out 16 a row again
        page.click("#projector")
        assert page.evaluate(columns) == {"conv1": 8, "pool1": 8, "conv2": 16, "pool2": 16,
                                          "conv3": 16}
        page.click("#projector")
        assert page.evaluate(columns)["pool2"] == 8


SUMMARIES = """() => [...document.querySelectorAll('.summary')].map((f) => {
  const box = f.getBoundingClientRect();
  return { net: f.dataset.net, hidden: f.scrollWidth - f.clientWidth, top: Math.round(box.top) };
})"""


def test_on_a_1280x720_projector_the_first_screen_holds_all_of_conv1(
        browser: Any, server_url: str, api: Any) -> None:
    """A teacher's review: the legend's six lines put conv1 at 580 px of 720, one row of its
    maps in view; its lead stays, the rest folds into a disclosure."""
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 720},
                storage_state=projector_state(server_url)) as fm:
        fm.after_paint(lambda: fm.page.click('button[data-digit="18"]'), source="upload")
        box = fm.page.locator('canvas.map[data-net="max"][data-layer="conv1"]').bounding_box()
        assert box is not None and box["y"] + box["height"] <= 720, box


@pytest.mark.parametrize(("width", "height", "wide"), [(1920, 1080, 400), (1280, 720, 320),
                                                       (1280, 1024, 320)])
def test_the_enlarged_channel_grows_with_the_projector_views_text_where_there_is_room(
        browser: Any, server_url: str, api: Any, width: int, height: int, wide: int) -> None:
    """A teacher's review: at 1920x1080 the panel kept its 320 px, a pool's map and its
    conv's 190 px each beside 220 px of empty margin. It is 20rem there (the root is 20 px);
    on a 720 px screen it stays 320 px, which leaves its words more room under the map, and
    at 1280 px wide, where 360 px docked over avg's column covered max's last (a review)."""
    with opened(browser, server_url, api, viewport={"width": width, "height": height},
                storage_state=projector_state(server_url)) as fm:
        fm.after_paint(lambda: fm.page.click('button[data-digit="18"]'), source="upload")
        canvas = fm.page.locator('canvas.map[data-net="avg"][data-layer="pool1"]')
        canvas.evaluate("(c) => c.scrollIntoView({ block: 'center' })")
        fm.page.mouse.click(*fm.map_point("avg", "pool1", 3, 6, 6))
        panel = fm.page.locator("#inspector")
        panel.wait_for(state="visible")
        box = panel.bounding_box()
        assert box is not None and box["width"] == wide, box
        assert box["x"] + box["width"] <= width - 16
        # clicked on max's maps, it docks over avg's and leaves max's whole
        fm.page.keyboard.press("Escape")
        fm.page.mouse.click(*fm.map_point("max", "pool1", 7, 6, 6))
        panel.wait_for(state="visible")
        box = panel.bounding_box()
        maps = fm.page.locator('canvas.map[data-net="max"][data-layer="pool1"]').bounding_box()
        assert box is not None and maps is not None and box["x"] >= maps["x"] + maps["width"]


@pytest.mark.parametrize(("width", "height", "projector", "beside"), [
    (1280, 720, True, False), (1920, 1080, True, True), (1280, 800, False, True)])
def test_the_model_summaries_show_every_parameter_count_whole(
        browser: Any, server_url: str, api: Any, width: int, height: int, projector: bool,
        beside: bool) -> None:
    """Two Keras summaries share a row where both fit whole, else one goes under the other (a
    teacher's review: in the projector view at 1280x720 each had a 401 px column, and the
    parameter counts, which add up to the 93,322 the page speaks of, were cut to "18,4")."""
    state = projector_state(server_url) if projector else None
    with opened(browser, server_url, api, viewport={"width": width, "height": height},
                storage_state=state) as fm:
        seen = fm.page.evaluate(SUMMARIES)
        assert [(s["net"], s["hidden"]) for s in seen] == [("max", 0), ("avg", 0)]
        assert (seen[0]["top"] == seen[1]["top"]) is beside


@pytest.mark.parametrize(("width", "height", "projector", "side"), [
    (1920, 1080, True, 170), (1920, 950, True, 170), (1600, 900, True, 170),
    (1280, 1024, True, 170), (1280, 900, True, 112), (1366, 768, True, 112),
    (1920, 1080, False, 112)])
def test_the_input_that_lights_up_is_larger_on_a_tall_projector(
        browser: Any, server_url: str, api: Any, width: int, height: int, projector: bool,
        side: int) -> None:
    """A teacher's review: in the projector view the 28x28 input, where a hovered unit's
    pixels light up, kept its 112 px, a pool unit's field a few px on the wall. Where the
    screen is tall enough it is 6 px a pixel inside its 1 px frame (1920x950: a browser's
    window on a 1080 px screen, a review); a shorter one keeps 4, so that the input and a
    hovered unit's readout stay in the first screen, as does the usual view."""
    state = projector_state(server_url) if projector else None
    with opened(browser, server_url, api, viewport={"width": width, "height": height},
                storage_state=state) as fm:
        box = fm.page.locator("#input28").bounding_box()
        assert box is not None and (box["width"], box["height"]) == (side, side), box
        # the picture is whole in its frame (the overlay of the field is laid on it)
        frame = fm.page.locator("#input28").evaluate(
            "(c) => [c.parentElement.getBoundingClientRect().width, c.clientWidth]")
        assert frame == [side, side - 2]
        if side == 112:
            return
        # on the first screen, and so is a pool unit's readout, the longest, beside it: at
        # 1280x900 it was not, and the tip that then mirrors it covered the input
        assert box["y"] + box["height"] <= height
        fm.after_paint(lambda: fm.page.click('button[data-digit="0"]'), source="upload")
        for layer in ("pool1", "pool2"):
            fm.hover_unit("max", layer, 3, 1, 1)
            readout = fm.page.locator("#readout")
            assert readout.inner_text().startswith(f"max {layer}, channel 3")
            bottom = readout.evaluate("(r) => r.getBoundingClientRect().bottom")
            assert bottom <= height, (layer, bottom)
