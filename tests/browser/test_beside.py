"""Beside max, any network the server has (main.js #wireBeside, link.js's `beside`): asked
for by a teacher's review, as the article weighs max pooling against a strided conv and
against no downsampling at all, whose maps the page could not show."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import FeatureMapsPage, answer_shown, opened, ready, sample_body

pytestmark = pytest.mark.browser

OFFERED = ["avg · Average pooling", "strided · Strided convolution", "nopool · No downsampling",
           "blurmax · Blurred max pooling"]


def stroke_shown(fm: FeatureMapsPage, points: list[tuple[float, float]]) -> tuple[Any, Any]:
    """One stroke through `points` (fractions of the pad), once its maps are shown: the pad's
    pixels and the input's, for what comes back to be held to."""
    fm.after_paint(lambda: fm.stroke(points, steps=6), source="pad")
    fm.idle()
    return fm.canvas_rgba("#pad"), fm.input_pixels()


def emptied(fm: FeatureMapsPage) -> None:
    """Wait until the page shows no drawing: max's answer says so."""
    fm.page.wait_for_function("() => document.querySelector('.pred[data-net=\"max\"]')"
                              ".innerText.includes('no drawing')")


def test_a_strided_conv_beside_max_keeps_the_digit_and_says_how_its_layers_differ(
        browser: Any, server_url: str, api: Any,
        digit_files: dict[int, tuple[int, Path]]) -> None:
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        page = fm.page
        assert page.locator("#beside option").all_inner_texts() == OFFERED
        assert page.input_value("#beside") == "avg"
        # in place of the second network's name, at the head of its column
        assert page.get_attribute('.pred[data-net="avg"] h3 select', "aria-label") == \
            "The network shown beside max"
        assert page.locator(".pred h3").all_inner_texts()[0] == "max · Max pooling"
        fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
        page.wait_for_function("() => location.search === '?digit=18'")
        with page.expect_navigation():
            page.select_option("#beside", "strided")
        ready(fm)
        assert page.evaluate("location.search") == "?digit=18&beside=strided"
        assert page.input_value("#beside") == "strided"
        heads = page.locator(".maps-head .net-head")
        assert [heads.nth(i).get_attribute("data-net") for i in range(heads.count())] == \
            ["max", "strided"]
        assert page.inner_text("#pair-text") == ("two trained MNIST convnets answer as you draw: "
                                                 "max (max pooling) beside strided (strided "
                                                 "convolution)")
        # the nudge panel's notes speak of the pair shown, not of avg (found by a review)
        help_text = page.inner_text("#nudge-help")
        assert "avg" not in help_text
        assert "each network's filters are its own from conv1 on" in help_text
        page.click("#nudge-more summary")
        assert "avg" not in page.inner_text("#nudge-more")
        assert "strided convs, or not at all, has no pool" in page.inner_text("#nudge-more")
        page.click("#nudge-more summary")
        # one seed for all: their conv1s look alike, and what follows is said for no pools
        page.click("#same-start summary")
        assert page.inner_text("#same-start summary") == \
            "Why do max's and strided's conv1 maps look alike?"
        assert page.inner_text("#same-start p").endswith(
            "after conv1 the maps differ, as each downsamples its own way (or not at all), and "
            "the later filters have drifted apart. strided's conv1 computes its filters at every "
            "second position only, so its maps are 13x13 where max's are 26x26.")
        # the article's reason for max over the mean stays, pointing at the one-map figure,
        # which still shows the mean (a teacher's review: it went with avg's column)
        assert page.inner_text("#why-max") == (
            "Why the article prefers max to the mean: a map records where its pattern is "
            "present, and the telling part is the strongest presence in each window, which max "
            "keeps and the mean dilutes with the weaker units around it. The figure below shows "
            "it on one map (as it must: max keeps each window's largest value by definition, so "
            "this is no evidence that max is better). Whether that makes max more accurate, "
            "these networks cannot tell (the table above).")
        # the bars under both heads stay level, the choice in place of strided's name
        tops = [box["y"] for box in (page.locator(f'.pred[data-net="{net}"] .bars').bounding_box()
                                     for net in ("max", "strided")) if box]
        assert tops[0] == tops[1]
        # its layers: no pools, each conv its own size and field, said under its maps
        assert page.locator(".map-cell.missing").all_inner_texts() == \
            ["strided has no pool1", "strided has no pool2"]
        # strided reads input row 26, which max never does: the note says whose answer
        # ink there cannot change (a review)
        assert ": ink there never changes max's answer." in page.locator(
            'section.maps-row[data-layer="pool2"] .note').inner_text()
        # the field is said for all where all share it, though their maps' sizes differ (a
        # teacher's review: "Each of max's units sees 3x3" read as if strided's did not)
        notes = {name: page.inner_text(f'section.maps-row[data-layer="{name}"] .note')
                 for name in ("conv1", "conv2")}
        assert notes["conv1"].endswith(
            ". strided's conv1 reads input, stride 2. strided's conv1 never reads the input's "
            "last row and column: ink there never changes strided's answer. Each unit sees 3x3 "
            "input px."), notes
        # and what each network's conv reads, where it is not max's (a teacher's review:
        # "64 learned filters on pool1" read as if strided pooled too)
        assert notes["conv2"].startswith("64 learned filters on pool1, "), notes
        assert notes["conv2"].endswith(". strided's conv2 reads conv1, stride 2. "
                                       "Each of max's units sees 8x8 input px."), notes
        # the row's head gives both sizes where they differ (a student's review: max's alone
        # read as strided's too); one where they agree
        sizes = [page.inner_text(f'section.maps-row[data-layer="{name}"] .layer-size')
                 .replace("\xa0", " ") for name in ("conv1", "pool1", "conv2", "conv3")]
        assert sizes == ["32 maps: 26 x 26 in max, 13 x 13 in strided", "32 maps of 13 x 13",
                         "64 maps: 11 x 11 in max, 6 x 6 in strided",
                         "64 maps: 3 x 3 in max, 4 x 4 in strided"]
        captions = [page.inner_text(f'.map-cell[data-net="strided"][data-layer="{name}"] .cap-name')
                    for name in ("conv1", "conv2", "conv3")]
        assert captions == ["strided conv1 · 13 x 13, sees 3x3 px",
                            "strided conv2 · 6 x 6, sees 7x7 px",
                            "strided conv3 · 4 x 4, sees 15x15 px"]
        assert page.inner_text('.map-cell[data-net="max"][data-layer="conv2"] .cap-name') == \
            "max conv2"
        # on a phone, the size on a line of its own, which began "· 13 x 13" (a review)
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.inner_text('.map-cell[data-net="strided"][data-layer="conv1"] .cap-name') \
            == "strided\n13 x 13, sees 3x3 px"
        page.set_viewport_size({"width": 1280, "height": 900})
        # its answer is the server's for the sample as MNIST stores it
        label, path = digit_files[18]
        answer = api.shifts(sample_body(path), ["max", "strided"],
                            "application/json")["models"]
        for net in ("max", "strided"):
            assert fm.prediction(net).startswith(f"predicts {answer[net]['prediction']} "), net
            assert answer_shown(answer[net]["probability"]) in fm.prediction(net)
        # the nudge table and the shift lab follow the pair; the lab adds blurmax
        cols = page.locator("#nudge-table thead th")
        assert cols.all_inner_texts() == ["layer", "max", "strided"]
        page.wait_for_selector("#shift-grids canvas.heat[data-right]", state="attached")
        labs = page.locator("figure.heat-fig")
        assert [labs.nth(i).get_attribute("data-net") for i in range(labs.count())] == \
            ["max", "strided", "blurmax"]
        # a stroke goes over the live channel to both networks
        fm.after_paint(lambda: fm.stroke([(0.3, 0.3), (0.7, 0.7)]), source="pad")
        # painted: every pixel of a channel opaque (before, the faint empty squares' 30%)
        assert (fm.canvas_rgba('canvas.map[data-net="strided"][data-layer="conv3"]')[..., 3]
                == 255).any()

        # from the keyboard: an arrow key on the closed choice opens nothing (in some
        # browsers it changes the choice at once); Enter does, and the focus comes back to it
        drawn = page.evaluate("location.search")  # the stroke's levels, and the choice
        assert drawn.startswith("?input=") and drawn.endswith("&beside=strided")
        page.focus("#beside")
        page.keyboard.press("ArrowUp")
        page.wait_for_timeout(500)
        assert page.evaluate("location.search") == drawn
        with page.expect_navigation():
            page.keyboard.press("Enter")
        ready(fm)
        # avg, the usual pair: the drawing stays, the choice goes from the address
        assert page.evaluate("location.search") == drawn.removesuffix("&beside=strided")
        assert page.evaluate("document.activeElement.id") == "beside"
        # its focus ring reaches at most 1 px past it, where the usual ring (3 px, 2 px out)
        # cut the top off the big "7" of "predicts 7" under it (a first-time user's review;
        # the digit's colour is the ring's, so the overlap is measured, not looked for)
        ring = page.evaluate("""() => { const s = document.getElementById('beside');
          const cs = getComputedStyle(s);
          return [s.matches(':focus-visible'), parseFloat(cs.outlineWidth),
                  parseFloat(cs.outlineOffset)]; }""")
        assert ring[0] and ring[1] >= 2 and ring[1] + ring[2] <= 1, ring
        assert page.inner_text("#pair-text") == ("two trained MNIST convnets answer as you "
                                                 "draw: max pooling beside avg (average) pooling")
        # Alt+↓ opens the list, whose Enter the select never sees: the choice made there
        # opens the page with it (an accessibility review: it was shown, and dropped)
        with page.expect_navigation():
            for key in ("Alt+ArrowDown", "ArrowDown", "Enter"):
                page.keyboard.press(key)
        ready(fm)
        assert page.evaluate("location.search") == drawn


def test_a_drawing_comes_back_as_drawn_when_another_network_is_chosen(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by a first-visit review: choosing another network opens the page again, and
    the drawing came back as the 28x28 levels it gave, scaled up and blurred, with nothing
    to undo. Its strokes come back on the pad as drawn, over the same levels, and Undo
    takes them back."""
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        page = fm.page
        fm.after_paint(lambda: fm.stroke([(0.3, 0.2), (0.7, 0.2), (0.4, 0.85)], steps=6),
                       source="pad")
        fm.after_paint(lambda: fm.stroke([(0.35, 0.5), (0.65, 0.5)], steps=4), source="pad")
        fm.idle()
        pad, seen = fm.canvas_rgba("#pad"), fm.input_pixels()
        with page.expect_navigation():
            page.select_option("#beside", "nopool")
        ready(fm)
        assert page.evaluate("location.search").endswith("&beside=nopool")
        assert (fm.canvas_rgba("#pad") == pad).all()  # as drawn, not the levels blurred
        assert (fm.input_pixels() == seen).all()
        fm.after_paint(lambda: page.click("#undo"), source="undo")  # the second stroke
        assert not (fm.canvas_rgba("#pad") == pad).all()
        page.click("#undo")  # the first: nothing left
        emptied(fm)
        assert not fm.canvas_rgba("#pad")[..., :3].any()
        # nothing left to undo: no empty pad kept under the strokes (a review: Undo stayed
        # enabled and did nothing)
        assert fm.page.locator("#undo").is_disabled()
        # a small drawing is said to be scaled up, before the choice and after it
        fm.after_paint(lambda: fm.stroke([(0.1, 0.1), (0.1, 0.2)], steps=4), source="pad")
        said = "Drawn small: scaled up 4.0x, strokes too."
        assert page.inner_text("#picked") == said
        with page.expect_navigation():
            page.select_option("#beside", "strided")
        ready(fm)
        assert page.inner_text("#picked") == said


def choose_beside(fm: FeatureMapsPage, name: str) -> None:
    """Choose `name` beside max, and wait for the page opened again with it to show its
    input."""
    with fm.page.expect_navigation():
        fm.page.select_option("#beside", name)
    ready(fm)


def test_an_upload_keeps_its_line_when_another_network_is_chosen(
        browser: Any, server_url: str, api: Any, test_digit_pngs: dict[int, tuple[int, bytes]]
        ) -> None:
    """Found by a student's review: an upload's line under the pad ("Uploaded ...: cropped
    and centred") read, once another network was chosen, "As the networks saw it: the 28x28
    input the page's address holds", a link the student never opened. It is kept with the
    levels it was said of; a nudged upload is its levels, as before."""
    _, seven = test_digit_pngs[0]
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        page = fm.page
        fm.after_paint(lambda: fm.upload("seven.png", seven, "image/png"), source="upload")
        fm.idle()
        said = ("Uploaded seven.png: cropped and centred, light ink on dark as MNIST's digits "
                "are (inverted if it was dark on light).")
        assert page.inner_text("#picked") == said
        seen = fm.input_pixels()
        page.wait_for_function("() => location.search.startsWith('?input=')")
        choose_beside(fm, "strided")
        assert (fm.input_pixels() == seen).all()
        assert page.inner_text("#picked") == said
        # kept once: the same address opened again is the address's levels
        fm.after_paint(lambda: page.click('#nudge button[data-dir="right"]'), source="nudge")
        choose_beside(fm, "avg")
        assert page.inner_text("#picked") == (
            "As the networks saw it: the 28x28 input the page's address holds, scaled up to "
            "the pad.")


def test_undo_still_brings_back_what_a_sample_replaced_once_another_network_is_chosen(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by a student's review: a drawn 7 that a sample replaced could not be brought
    back once another network was chosen, which opens the page again: Undo was greyed out.
    Undo's history of Clears, samples and uploads comes along, the drawing as drawn."""
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        page = fm.page
        pad, drawn = stroke_shown(fm, [(0.3, 0.2), (0.7, 0.2), (0.4, 0.85)])
        fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
        fm.idle()
        sample = fm.input_pixels()
        page.wait_for_function("() => location.search.startsWith('?digit=18')")
        choose_beside(fm, "strided")
        assert (fm.input_pixels() == sample).all()
        page.wait_for_selector("#undo:not([disabled])")
        fm.after_paint(lambda: page.click("#undo"), source="undo")
        assert (fm.canvas_rgba("#pad") == pad).all()  # the strokes, as drawn
        assert (fm.input_pixels() == drawn).all()
        page.wait_for_function("() => location.search.startsWith('?input=')")
        page.click("#undo")  # the stroke itself, and then nothing is left
        emptied(fm)
        assert page.locator("#undo").is_disabled()


def test_undo_still_brings_back_a_cleared_upload_once_another_network_is_chosen(
        browser: Any, server_url: str, api: Any, test_digit_pngs: dict[int, tuple[int, bytes]]
        ) -> None:
    """An upload, cleared, then another network chosen: the page opens empty, and Undo puts
    the upload back as the input it gave, with its line, then the empty pad it was chosen
    on. Where what is shown cannot come back as it was (a stroke over an upload comes back
    in its levels), no history is put back under it."""
    _, seven = test_digit_pngs[0]
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        page = fm.page
        fm.after_paint(lambda: fm.upload("seven.png", seven, "image/png"), source="upload")
        fm.idle()
        said, seen = page.inner_text("#picked"), fm.input_pixels()
        page.click("#clear")
        page.wait_for_function("() => location.search === ''")
        with page.expect_navigation():
            page.select_option("#beside", "nopool")
        page.wait_for_selector("body[data-ready]", state="attached")
        page.wait_for_selector("#undo:not([disabled])")
        fm.after_paint(lambda: page.click("#undo"), source="undo")
        assert (fm.input_pixels() == seen).all()
        assert page.inner_text("#picked") == said
        page.click("#undo")  # the empty pad the upload was chosen on, as before the choice
        emptied(fm)
        assert page.locator("#undo").is_disabled()
        fm.after_paint(lambda: fm.upload("seven.png", seven, "image/png"), source="upload")
        fm.idle()
        # a stroke over an upload, then the page opened again
        fm.after_paint(lambda: fm.stroke([(0.2, 0.5), (0.8, 0.5)], steps=4), source="pad")
        fm.idle()
        page.reload()
        ready(fm)
        # the bar comes back in the levels (strokes over an upload are not kept), so what
        # was before the upload is not put back under them: Undo has nothing to take back
        page.wait_for_timeout(500)
        assert page.locator("#undo").is_disabled()


def test_a_drawing_comes_back_as_drawn_after_a_reload(browser: Any, server_url: str,
                                                      api: Any) -> None:
    """Found by a review: after F5 the pad showed the drawing's 28x28 levels scaled up,
    blurred, where choosing another network already brought its strokes back. A reload
    does too, and Undo takes them back."""
    with opened(browser, server_url, api, viewport={"width": 1536, "height": 864}) as fm:
        page = fm.page
        fm.after_paint(lambda: fm.stroke([(0.3, 0.25), (0.7, 0.25), (0.5, 0.8)], steps=6),
                       source="pad")
        fm.idle()
        page.wait_for_function("() => location.search.startsWith('?input=')")
        pad, seen = fm.canvas_rgba("#pad"), fm.input_pixels()
        page.reload()
        ready(fm)
        assert (fm.canvas_rgba("#pad") == pad).all()  # as drawn, not the levels blurred
        assert (fm.input_pixels() == seen).all()
        assert page.inner_text("#picked") == ""  # not said to be the link's levels
        page.click("#undo")
        emptied(fm)
        assert not fm.canvas_rgba("#pad")[..., :3].any()


def test_a_nudged_drawing_comes_back_as_drawn_and_nudged_after_a_reload(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by a review: a nudged drawing came back after F5 as its moved levels, scaled
    up, and Undo then cleared it. Its strokes come back, and its nudges are made again:
    Undo takes back each nudge, then the strokes."""
    with opened(browser, server_url, api, viewport={"width": 1536, "height": 864}) as fm:
        page = fm.page
        pad, drawn = stroke_shown(fm, [(0.3, 0.25), (0.7, 0.25), (0.5, 0.8)])
        for direction in ("right", "right", "up"):
            fm.after_paint(lambda d=direction: page.click(f'#nudge button[data-dir="{d}"]'),
                           source="nudge")
        moved = fm.input_pixels()
        assert (moved == np.roll(np.roll(drawn, 2, axis=1), -1, axis=0)).all()  # no ink lost
        page.wait_for_function(
            "(text) => location.search === '?input=' + text",
            arg=base64.urlsafe_b64encode(moved.astype(np.uint8).tobytes()).decode().rstrip("="))
        page.reload()
        ready(fm)
        page.wait_for_function("() => (window.__fmPaints || [])"
                               ".filter((d) => d.source === 'nudge').length === 3")
        fm.idle()
        assert (fm.canvas_rgba("#pad") == pad).all()  # as drawn, not the levels blurred
        assert (fm.input_pixels() == moved).all()
        assert "moved 2 px right and 1 px up" in page.inner_text("#nudge-status")
        assert page.inner_text("#picked") == ""  # not said to be the link's levels
        fm.after_paint(lambda: page.click("#undo"), source="undo")  # the nudge up
        assert (fm.input_pixels() == np.roll(drawn, 2, axis=1)).all()
        for _ in range(2):
            fm.after_paint(lambda: page.click("#undo"), source="undo")
        assert (fm.input_pixels() == drawn).all()
        assert (fm.canvas_rgba("#pad") == pad).all()
        page.click("#undo")  # the strokes
        emptied(fm)
        assert not fm.canvas_rgba("#pad")[..., :3].any()


def test_a_listed_digit_says_where_avg_went_when_another_network_is_beside_max(
        browser: Any, server_url: str, api: Any) -> None:
    """The list of digits max and avg answer differently gives avg's answers: with another
    network beside max, its line says that avg is not shown, and how to show it."""
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        fm.page.goto(fm.page.url + "?digit=359&beside=nopool")  # a listed digit, no sample
        ready(fm)
        status = fm.page.locator("#disagree-status")
        fm.page.wait_for_function(
            "() => document.getElementById('disagree-status').textContent.startsWith('On the pad')")
        assert status.text_content().endswith(
            ". avg is not shown now: choose it beside max to see its maps.")
        # the line is read, not spoken: its live twin says it once, as the list comes (a review)
        assert fm.page.locator("#disagree-said").text_content() == (
            "51 digits, in three groups. avg is not shown now: choose it beside max to see its "
            "maps.")
        fm.page.goto(fm.page.url.split("?")[0] + "?digit=359")
        ready(fm)
        fm.page.wait_for_function(
            "() => document.getElementById('disagree-status').textContent.startsWith('On the pad')")
        assert "not shown" not in status.text_content()


def test_blurmaxs_outer_units_say_the_size_the_images_edge_cuts_their_field_to(
        browser: Any, server_url: str, api: Any) -> None:
    """blurmax's blur pools pad past the image: its conv3 corner unit sees rows 0-20 of a
    24x24 field, which the readout gave as "(its 24x24 receptive field)" alone, read as a
    miscount (a student's review); its centre unit sees the whole field."""
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        fm.page.goto(fm.page.url + "?digit=18&beside=blurmax")
        ready(fm)
        for (row, col), said in [
                ((0, 0), "sees input rows 0–20, cols 0–20 (its 24x24 receptive field, cut to "
                         "21x21 by the image's edge, outlined on the input)"),
                ((2, 0), "sees input rows 5–27, cols 0–20 (its 24x24 receptive field, cut to "
                         "23 rows by 21 cols by the image's edge, outlined on the input)"),
                ((1, 1), "sees input rows 1–24, cols 1–24 (its 24x24 receptive field, outlined "
                         "on the input)")]:
            fm.hover_unit("blurmax", "conv3", 0, row, col)
            assert fm.page.locator("#readout").inner_text().endswith(said), (row, col)
        # the pool rows' notes say what each pools, and whose sizes they give (a teacher's
        # review: "Each unit sees 4x4" beside blurmax's 6x6, and "the answer" for max's alone)
        notes = fm.page.locator("section.maps-row .note")
        pool1, pool2 = notes.nth(1).inner_text(), notes.nth(3).inner_text()
        pools = ("no learned weights: max keeps the largest, blurmax first takes the largest "
                 "of each 2x2 window one unit apart, then blurs 3x3 and keeps every second "
                 "unit. Halves each side")
        assert pool1.startswith("2x2 windows of conv1, stride 2 in max (each window 2 units "
                                "on from the last: side by side, none overlapping), "
                                f"{pools}. Each of max's "
                                "units sees 4x4 input px.")
        assert pool2.startswith(f"2x2 windows of conv2, stride 2 in max, {pools}, rounding down: "
                                "in max, conv2's last row and column go unread. So")
        assert ": ink there never changes max's answer." in pool2
        # MaxBlurPool2D, in the model summaries, is said to be no Keras layer
        # and its fixed blur's weights, which the params leave out, said (a science review)
        assert fm.page.locator("#summary > .note").inner_text() == (
            "MaxBlurPool2D, blurmax's pool, is no built-in Keras layer. Its fixed 3x3 blur, the "
            "same 9 weights in each of its 96 pool channels (864 in all), is not learned and not "
            "counted in the params.")
        # max's fields lie inside the image: never cut
        fm.hover_unit("max", "conv3", 0, 0, 0)
        assert fm.page.locator("#readout").inner_text().endswith(
            "sees input rows 0–17, cols 0–17 (its 18x18 receptive field, outlined on the input)")


def test_a_network_the_server_lacks_is_said_and_the_usual_pair_shown(
        browser: Any, server_url: str, api: Any) -> None:
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        fm.page.goto(fm.page.url + "?digit=18&beside=maxx")
        ready(fm)
        notice = fm.page.locator("#error-text")
        notice.wait_for()
        assert notice.inner_text() == ("The address could not be followed in full: beside=maxx "
                                       "is not one of avg, strided, nopool, blurmax.")
        assert fm.page.input_value("#beside") == "avg"
        fm.page.wait_for_function("() => location.search === '?digit=18'")


def test_a_server_without_avg_shows_max_alone_until_one_is_chosen(browser: Any,
                                                                   api: Any) -> None:
    from bench.common import server

    with server(env={"FEATUREMAPS_MODELS": "max,nopool"}) as srv, \
            opened(browser, f"http://127.0.0.1:{srv.port}", api,
                   viewport={"width": 1280, "height": 900}) as fm:
        page = fm.page
        heads = page.locator(".maps-head .net-head")
        assert heads.count() == 1 and heads.first.get_attribute("data-net") == "max"
        assert page.inner_text("#pair-text") == \
            "a trained MNIST convnet answer as you draw: max (max pooling)"
        assert page.locator("#beside option").all_inner_texts() == \
            ["none", "nopool · No downsampling"]
        assert page.inner_text("#beside-alone .beside-text") == "Beside max"
        with page.expect_navigation():
            page.select_option("#beside", "nopool")
        page.wait_for_selector("body[data-ready]", state="attached")
        assert [heads.nth(i).get_attribute("data-net") for i in range(heads.count())] == \
            ["max", "nopool"]
        assert page.evaluate("location.search") == "?beside=nopool"
        with page.expect_navigation():
            page.select_option("#beside", "")
        page.wait_for_selector("body[data-ready]", state="attached")
        assert heads.count() == 1 and page.evaluate("location.search") == ""


def test_the_choice_shows_the_chosen_name_alone_where_its_title_would_be_cut(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by a review: on a phone the closed choice read "avg · Average poolin". There it
    shows the name alone, and the list every title; where there is room, name and title."""
    labels = "Array.from(document.querySelectorAll('#beside option'), (o) => o.label)"
    with opened(browser, server_url, api, viewport={"width": 390, "height": 844},
                is_mobile=True, has_touch=True) as fm:
        fm.page.wait_for_function(f"() => {labels}[0] === 'avg'")
        assert fm.page.evaluate(labels) == ["avg", *OFFERED[1:]]
        assert fm.page.locator("#beside option").all_inner_texts() == OFFERED
        # in use, whole: the list drawn from the labels, and what a screen reader says
        fm.page.focus("#beside")
        assert fm.page.evaluate(labels) == OFFERED
        fm.page.evaluate("document.activeElement.blur()")
        assert fm.page.evaluate(labels) == ["avg", *OFFERED[1:]]
        fm.page.dispatch_event("#beside", "pointerdown")
        assert fm.page.evaluate(labels) == OFFERED
        fm.page.evaluate("document.querySelector('#beside').dispatchEvent(new Event('blur'))")
        assert fm.page.evaluate(labels) == ["avg", *OFFERED[1:]]
        # turned to landscape, the column has room for the whole label again
        fm.page.set_viewport_size({"width": 900, "height": 390})
        fm.page.wait_for_function(f"() => {labels}[0] !== 'avg'")
        assert fm.page.evaluate(labels) == OFFERED
    with opened(browser, server_url, api, viewport={"width": 1280, "height": 900}) as fm:
        fm.page.goto(f"{server_url}/?beside=blurmax")
        fm.page.wait_for_selector("body[data-ready]", state="attached")
        assert fm.page.evaluate(labels) == OFFERED
        assert fm.page.input_value("#beside") == "blurmax"


def choose_nopool_with_a_sample(fm: FeatureMapsPage) -> None:
    """A sample digit on the pad, then nopool chosen beside max: the page opens again, the
    focus put back on the choice."""
    page = fm.page
    fm.after_paint(lambda: page.click('button[data-digit="18"]'), source="upload")
    page.locator("#beside").scroll_into_view_if_needed()
    with page.expect_navigation():
        page.select_option("#beside", "nopool")
    ready(fm)
    assert page.evaluate("document.activeElement.id") == "beside"


def test_the_choice_put_back_in_focus_shows_the_chosen_name_alone(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by a review: on a phone, the page opened again with the choice just made and
    the focus put back on the select, which, in use, read "nopool · No downsam", cut,
    until it lost the focus. Put back, it shows the name alone until a key or a pointer
    uses it."""
    labels = "Array.from(document.querySelectorAll('#beside option'), (o) => o.label)"
    with opened(browser, server_url, api, viewport={"width": 390, "height": 844},
                is_mobile=True, has_touch=True) as fm:
        page = fm.page
        choose_nopool_with_a_sample(fm)
        chosen = "document.querySelector('#beside').selectedOptions[0]"
        assert page.evaluate(f"{chosen}.label") == "nopool"
        assert page.evaluate(f"{chosen}.textContent") == "nopool · No downsampling"
        page.keyboard.press("Shift")  # a key: in use, every label whole
        assert "nopool · No downsampling" in page.evaluate(labels)
        page.evaluate("document.activeElement.blur()")
        assert page.evaluate(f"{chosen}.label") == "nopool"


def test_on_a_phone_the_choice_is_in_view_when_the_page_opens_again(
        browser: Any, server_url: str, api: Any) -> None:
    """Found by a review: the page opened again at its top, the pad, while the choice, and
    the maps it changed, were screens below; the focus was put back on it without a scroll."""
    with opened(browser, server_url, api, viewport={"width": 844, "height": 390},
                is_mobile=True, has_touch=True) as fm:
        page = fm.page
        choose_nopool_with_a_sample(fm)
        box = page.locator("#beside").bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 390, box
        assert page.evaluate("scrollY") > 390  # not the top of the page, where the pad is


def test_a_conv_note_says_another_networks_stride_wherever_it_differs(
        fm: FeatureMapsPage) -> None:
    """Found by a review: with strided first (a server's FEATUREMAPS_MODELS may put it
    there) and nopool beside it, conv2's note said "nopool's conv2 reads conv1." and left its
    stride of 1, against strided's 2, unsaid."""
    note = fm.page.evaluate("""async () => {
      const { layerNote } = await import('/static/js/mapgrid.js');
      const { models } = await (await fetch('api/v1/models')).json();
      const nets = ['strided', 'nopool'].map((n) => models.find((m) => m.name === n));
      const info = nets[0].layers.find((l) => l.name === 'conv2');
      return layerNote(info, nets, nets[0].layers.find((l) => l.name === info.reads.layer));
    }""")
    assert note.startswith("64 learned filters on conv1, each 3x3 across its 32 channels, "
                           "stride 2, then ReLU: ")
    assert ". nopool's conv2 reads conv1, stride 1. Each of strided's units sees 7x7 input px." \
        in note


def test_conv3s_usual_reading_is_said_of_the_networks_whose_units_see_enough(
        fm: FeatureMapsPage) -> None:
    """Found by a science review: beside nopool, whose conv3 units see 7x7 px, the row's
    note said "usually read as larger parts of a digit" of both networks, where the article
    box says of that layer "a piece of a stroke, not a digit"."""
    notes = fm.page.evaluate("""async () => {
      const { layerNote } = await import('/static/js/mapgrid.js');
      const { models } = await (await fetch('api/v1/models')).json();
      const pair = (names) => names.map((n) => models.find((m) => m.name === n));
      const conv3 = (nets) => layerNote(nets[0].layers.find((l) => l.name === 'conv3'), nets);
      return [conv3(pair(['max', 'nopool'])), conv3(pair(['max', 'avg'])),
              conv3(pair(['nopool'])), conv3(pair(['nopool', 'max']))];
    }""")
    assert ("then ReLU: usually read as larger parts of a digit in max; in nopool, whose units "
            "see 7x7 input px, as pieces of strokes. ") in notes[0]
    assert "then ReLU: usually read as larger parts of a digit. " in notes[1]
    # the field said once: where the note goes on to give it, not in the reading too
    assert notes[2].endswith("then ReLU: usually read as pieces of strokes. Each unit sees 7x7 "
                             "input px."), notes[2]
    assert ("then ReLU: usually read as larger parts of a digit in max; in nopool as pieces of "
            "strokes. ") in notes[3] and notes[3].endswith("Each of nopool's units sees 7x7 "
                                                          "input px."), notes[3]


def test_a_conv_note_says_what_a_stride_leaves_unread(fm: FeatureMapsPage) -> None:
    """Found by a teacher's review: the pool rows said which of max's input rows never reach
    conv3, and nothing said that strided's conv1, 13 units 2 apart, reads the input's
    columns 0-26 of 0-27. Its last row and column are named, for strided alone."""
    notes = fm.page.evaluate("""async () => {
      const { layerNote } = await import('/static/js/mapgrid.js');
      const { models } = await (await fetch('api/v1/models')).json();
      const pair = (names) => names.map((n) => models.find((m) => m.name === n));
      const conv = (nets, name) => layerNote(nets[0].layers.find((l) => l.name === name), nets);
      return [conv(pair(['max', 'strided']), 'conv1'), conv(pair(['max', 'strided']), 'conv2'),
              conv(pair(['max', 'avg']), 'conv1'), conv(pair(['strided']), 'conv1')];
    }""")
    said = ("strided's conv1 never reads the input's last row and column: ink there never "
            "changes strided's answer. ")
    assert said in notes[0] and said in notes[3]
    assert "never reads" not in notes[1]  # conv2's 6 units, 2 apart, read all 13 of conv1's
    assert "never reads" not in notes[2]
