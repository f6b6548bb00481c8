"""Browser tests: a real server (subprocess) and Debian's Chromium driven by Playwright.

The server runs this checkout with the models that models/ holds, on a free 127.0.0.1 port,
and is terminated by PID at the end of the session. Each test gets a fresh page; `fm` wraps
it with the few actions the tests share (draw, upload, wait for the maps, ask the API).
"""

from __future__ import annotations

import base64
import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.config import PROJECT_ROOT
from app.ml import registry

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
DIGITS = PROJECT_ROOT / "static" / "digits"
# clicks on each of the selectors given, one after another in one task: nothing the first
# starts (a request, an answer) can come between them
CLICK_IN_ONE_TASK = "(ids) => { for (const id of ids) document.querySelector(id).click(); }"
RECORDER = """
document.addEventListener('fm:painted', (e) => {
  (window.__fmPaints = window.__fmPaints || []).push(e.detail);
});
"""


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """`featuremaps serve` on a free loopback port with every shipped network, on the CPU
    (the benchmarks' server, bench/common.py)."""
    from bench.common import server

    models = ",".join(registry.shipped_variants(PROJECT_ROOT / "models"))
    with server(env={"FEATUREMAPS_MODELS": models}) as srv:
        yield f"http://127.0.0.1:{srv.port}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Api:
    """The server's REST API, called the way any client would (JSON responses)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def _post(self, path: str, body: bytes, content_type: str) -> dict[str, Any]:
        req = urllib.request.Request(f"{self.base}{path}", data=body, method="POST",
                                     headers={"Content-Type": content_type,
                                              "Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            doc: dict[str, Any] = json.loads(r.read())
            return doc

    def featuremaps(self, body: bytes, content_type: str = "image/png") -> dict[str, Any]:
        """Maps of max and avg as numpy arrays: {"input": (28, 28) uint8, "models": {net:
        {"prediction", "probabilities", "layers": {name: (C, H, W) float64 dequantised,
        "q": ..., "low", "high"}}}}."""
        doc = self._post("/api/v1/featuremaps?models=max,avg&encoding=uint8", body, content_type)
        out: dict[str, Any] = {
            "input": np.frombuffer(base64.b64decode(doc["input"]["data"]),
                                   np.uint8).reshape(28, 28),
            "models": {}}
        for name, net in doc["models"].items():
            layers = {}
            for layer in net["layers"]:
                q = np.frombuffer(base64.b64decode(layer["data"]), np.uint8).reshape(layer["shape"])
                low = np.asarray(layer["low"])[:, None, None]
                high = np.asarray(layer["high"])[:, None, None]
                layers[layer["name"]] = {"q": q, "low": low[:, 0, 0], "high": high[:, 0, 0],
                                         "values": low + q / 255.0 * (high - low)}
            out["models"][name] = {"prediction": net["prediction"],
                                   "probabilities": net["probabilities"], "layers": layers}
        return out

    def shifts(self, body: bytes, models: list[str],
               content_type: str = "image/png") -> dict[str, Any]:
        return self._post(f"/api/v1/shifts?models={','.join(models)}", body, content_type)

    def models(self) -> dict[str, Any]:
        return self._get("/api/v1/models")

    def filters(self, net: str, layer: str) -> dict[str, Any]:
        return self._get(f"/api/v1/models/{net}/filters/{layer}")

    def _get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base}{path}", timeout=30) as r:
            doc: dict[str, Any] = json.loads(r.read())
            return doc


def shown(p: float, digits: int = 1) -> str:
    """A probability as the page writes it (dom.js probability): never 0% or 100%."""
    step = 10.0 ** -digits / 100
    if p < step:
        return f"<{step * 100:.{digits}f}%"
    if p > 1 - step:
        return f">{(1 - step) * 100:.{digits}f}%"
    return f"{p * 100:.{digits}f}%"


def answer_shown(p: float) -> str:
    """A network's top probability as its head writes it (predictions.js answerPercent): to
    one decimal, rounded from the two the numbers under it show, halves up as JavaScript's
    Math.round does."""
    if p < 0.001 or p > 0.999:
        return shown(p)
    tenths = math.floor(math.floor(p * 1e4 + 0.5) / 10 + 0.5)
    return f"{tenths / 10:.1f}%"


def announcement(expected: dict[str, Any], nets: tuple[str, ...] = ("max", "avg")) -> str:
    """What the page says to a screen reader of an answer (a /api/v1/featuremaps JSON body):
    each network's prediction, in one sentence."""
    said = []
    for net in nets:
        m = expected["models"][net]
        said.append(f"{net} predicts {m['prediction']} "
                    f"({answer_shown(m['probabilities'][m['prediction']])})")
    return "; ".join(said) + "."


def pixels_body(x: np.ndarray) -> bytes:
    """The JSON body of a 28x28 uint8 input sent as it is (what the page's nudge sends)."""
    return json.dumps({"pixels": (x.astype(np.float64) / 255.0).tolist(),
                       "preprocess": False}).encode()


def sample_pixels(path: Path) -> np.ndarray:
    """A sample digit's 28x28 MNIST grey levels, as its PNG stores them."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def sample_body(path: Path) -> bytes:
    """What the page sends for a picked sample digit: its pixels as they are."""
    return pixels_body(sample_pixels(path))


class FeatureMapsPage:
    """A page of the app with the actions the tests share."""

    def __init__(self, page: Any, api: Api) -> None:
        self.page = page
        self.api = api
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("console", self._console)

    def _console(self, msg: Any) -> None:
        if "Content Security Policy" in msg.text or msg.type == "error" and \
                "Failed to load resource" not in msg.text:
            self.errors.append(f"console {msg.type}: {msg.text}")

    def idle(self, timeout: float = 30_000) -> None:
        """Wait until no feature-map request is in flight or waiting, and the shift lab too."""
        self.page.wait_for_selector('#maps[aria-busy="false"]', state="attached", timeout=timeout)
        self.page.wait_for_selector('#shift-panel[aria-busy="false"]', state="attached",
                                    timeout=timeout)

    def wait_held(self, held: list[Any], timeout: float = 10_000) -> None:
        """Until a request that a test's page.route holds (appending its route to `held`)
        has come, for at most `timeout` ms."""
        for _ in range(int(timeout // 50)):
            if held:
                return
            self.page.wait_for_timeout(50)
        assert held, f"no request held within {timeout:.0f} ms"

    def paints(self) -> list[dict[str, Any]]:
        paints: list[dict[str, Any]] = self.page.evaluate("window.__fmPaints || []")
        return paints

    def after_paint(self, action: Any, source: str | None = None, timeout: float = 30_000) -> None:
        """Do `action`, wait for a new paint of the maps (from `source` if given), then idle."""
        seen = len(self.paints())
        action()
        self.page.wait_for_function(
            """([seen, source]) => (window.__fmPaints || []).slice(seen)
                 .some((d) => source === null || d.source === source)""",
            arg=[seen, source], timeout=timeout)
        self.idle(timeout)

    def stroke(self, points: list[tuple[float, float]], steps: int = 4,
               pad_id: str = "pad") -> None:
        """Draw one stroke through points given in 0..1 of the pad (or of the pad docked in
        the corner, `dock-pad`), with the mouse, once it is in view (as a user scrolls to it:
        a nudge scrolls the sidebar to its numbers)."""
        pad = self.page.locator(f"#{pad_id}")
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        assert box is not None

        def at(p: tuple[float, float]) -> tuple[float, float]:
            return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]

        mouse = self.page.mouse
        mouse.move(*at(points[0]))
        mouse.down()
        for a, b in zip(points, points[1:], strict=False):
            for k in range(1, steps + 1):
                t = k / steps
                mouse.move(*at((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)))
        mouse.up()

    def swipe_up(self, x: float, y: float, moves: int, pace_ms: float = 0) -> None:
        """One finger put down at (x, y), moved up 20 px `moves` times (`pace_ms` apart: a
        finger's pace is a move a frame, 16 ms) and lifted, as touch events."""
        cdp = self.page.context.new_cdp_session(self.page)
        try:
            for kind, dy in [("touchStart", 0), *(("touchMove", -20 * k)
                                                  for k in range(1, moves + 1)),
                             ("touchEnd", 0)]:
                points = [] if kind == "touchEnd" else [{"x": x, "y": y + dy}]
                cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
                if pace_ms:
                    self.page.wait_for_timeout(pace_ms)
        finally:
            cdp.detach()

    def upload(self, name: str, data: bytes, mime: str) -> None:
        self.page.set_input_files("#upload", files=[{"name": name, "mimeType": mime,
                                                      "buffer": data}])

    def prediction(self, net: str) -> str:
        text: str = self.page.locator(f'.pred[data-net="{net}"] .pred-top').inner_text()
        return text

    def input_pixels(self) -> np.ndarray:
        """The 28x28 view's pixels (grey: the red channel)."""
        return self.canvas_rgba("#input28")[:, :, 0]

    def canvas_rgba(self, selector: str) -> np.ndarray:
        """A canvas's pixels read back with getImageData, (H, W, 4) uint8."""
        data = self.page.evaluate("""(sel) => {
          const c = document.querySelector(sel);
          const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let text = '';
          for (let i = 0; i < px.length; i += 0x8000) {
            text += String.fromCharCode.apply(null, px.subarray(i, i + 0x8000));
          }
          return { w: c.width, h: c.height, b64: btoa(text) };
        }""", selector)
        raw = np.frombuffer(base64.b64decode(data["b64"]), np.uint8)
        return raw.reshape(data["h"], data["w"], 4)

    def colour_table(self) -> np.ndarray:
        """The page's colour scale, (256, 3) uint8 RGB, level by level (colormap.js)."""
        table = self.page.evaluate("""async () => {
          const { colorTable } = await import('/static/js/colormap.js');
          return colorTable(JSON.parse(document.getElementById('config').textContent).colormap);
        }""")
        return np.asarray(table, np.uint8)

    @staticmethod
    def _origin(grid: dict[str, Any], channel: int) -> tuple[int, int]:
        """(x, y), the top-left canvas pixel of a channel's map, from its layer canvas's
        dataset (mapgrid.js: columns, gap, unit rows and columns; geometry.js cellOrigin)."""
        cols, gap = int(grid["columns"]), int(grid["gap"])
        return ((channel % cols) * (int(grid["w"]) + gap),
                (channel // cols) * (int(grid["h"]) + gap))

    def tiles(self, net: str, layer: str, rgba: np.ndarray | None = None) -> np.ndarray:
        """Each channel's map as its layer's canvas paints it, (C, H, W, 3) RGB, cut out by
        the canvas's own grid; `rgba`: the canvas already read back, not read again."""
        selector = f'canvas.map[data-net="{net}"][data-layer="{layer}"]'
        rgba = self.canvas_rgba(selector) if rgba is None else rgba
        grid = self.page.locator(selector).evaluate("(c) => ({ ...c.dataset })")
        h, w = int(grid["h"]), int(grid["w"])
        corners = [self._origin(grid, k) for k in range(int(grid["channels"]))]
        return np.stack([rgba[y:y + h, x:x + w, :3] for x, y in corners])

    def map_point(self, net: str, layer: str, channel: int, row: int,
                  col: int) -> tuple[float, float]:
        """Viewport coordinates of the centre of a unit in a layer canvas."""
        canvas = self.page.locator(f'canvas.map[data-net="{net}"][data-layer="{layer}"]')
        ds = canvas.evaluate("(c) => ({...c.dataset, width: c.width, height: c.height})")
        box = canvas.bounding_box()
        assert box is not None
        left, top = self._origin(ds, channel)
        return (box["x"] + (left + col + 0.5) / ds["width"] * box["width"],
                box["y"] + (top + row + 0.5) / ds["height"] * box["height"])

    def hover_unit(self, net: str, layer: str, channel: int, row: int, col: int) -> None:
        canvas = self.page.locator(f'canvas.map[data-net="{net}"][data-layer="{layer}"]')
        canvas.scroll_into_view_if_needed()
        self.page.mouse.move(*self.map_point(net, layer, channel, row, col))

    def mark(self, role: str) -> dict[str, str]:
        """The data attributes of a visible trace mark ('unit', 'window', 'winner', 'field')."""
        loc = self.page.locator(f".mark-{role}:not([hidden])")
        assert loc.count() == 1, f"expected one visible .mark-{role}, found {loc.count()}"
        ds: dict[str, str] = loc.evaluate("(m) => ({...m.dataset})")
        return ds


@pytest.fixture(scope="session")
def api(server_url: str) -> Api:
    return Api(server_url)


def projector_state(server_url: str) -> dict[str, Any]:
    """A browser context's `storage_state` with the projector view chosen (its cookie, as the
    masthead's toggle sets it: static/js/main.js)."""
    return {"cookies": [{"name": "featuremaps-view", "value": "projector",
                         "url": server_url + "/"}], "origins": []}


def css_value(page: Any, prop: str, value: str) -> str:
    """What `page` computes for CSS `value` (a system colour, a var()) as `prop`, on a probe
    element: a test compares an element's computed style with it."""
    resolved: str = page.evaluate("""([prop, value]) => {
      const probe = document.body.appendChild(document.createElement('span'));
      probe.style.setProperty(prop, value);
      const out = getComputedStyle(probe).getPropertyValue(prop);
      probe.remove();
      return out;
    }""", [prop, value])
    return resolved


# the layers of max and avg, with their maps' shapes
MAX_AVG_LAYERS = {"conv1": (32, 26, 26), "pool1": (32, 13, 13), "conv2": (64, 11, 11),
                  "pool2": (64, 5, 5), "conv3": (64, 3, 3)}


def assert_layers_painted(fm: FeatureMapsPage) -> None:
    """Every unit of every channel painted, each channel in its own place, in the colour of
    its level: the API's maps of the input the page shows, through the page's colour scale
    (per channel, the page's default). A test audit: channels painted one place over, or a
    map left unpainted mid-stroke, passed a count of opaque units and colours."""
    expected = fm.api.featuremaps(pixels_body(fm.input_pixels()), "application/json")
    table = fm.colour_table()
    for net in ("max", "avg"):
        for layer, (c, h, w) in MAX_AVG_LAYERS.items():
            rgba = fm.canvas_rgba(f'canvas.map[data-net="{net}"][data-layer="{layer}"]')
            opaque = rgba[:, :, 3] == 255
            # every unit of every channel is painted; the gaps between channels are not
            assert int(opaque.sum()) == c * h * w, (net, layer)
            q = expected["models"][net]["layers"][layer]["q"]
            tiles = fm.tiles(net, layer, rgba)
            wrong = [k for k in range(c) if not np.array_equal(tiles[k], table[q[k]])]
            assert not wrong, (net, layer, wrong)


def new_page(browser: Any, api: Api, **context_options: Any) -> tuple[Any, FeatureMapsPage]:
    """A browser context and a blank page in it that records its paints (RECORDER); the
    caller goes where it wants and closes the context."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.add_init_script(RECORDER)
    return context, FeatureMapsPage(page, api)


def ready(fm: FeatureMapsPage) -> None:
    """The page opened anew (by a choice of network, a reload, a link), once the input its
    address gives is shown."""
    fm.page.wait_for_selector("body[data-ready]", state="attached")
    fm.page.wait_for_function(
        "() => (window.__fmPaints || []).some((d) => d.source === 'upload')")
    fm.idle()


def open_page(browser: Any, server_url: str, api: Api, path: str = "/",
              **context_options: Any) -> Iterator[FeatureMapsPage]:
    """The page at `path`, ready, in a context of its own; closed after, with no error on
    it."""
    context, helper = new_page(browser, api, **context_options)
    try:
        page = helper.page
        page.goto(server_url + path)
        page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
        yield helper
    finally:
        context.close()
    assert not helper.errors, helper.errors


# `with opened(browser, server_url, api, viewport=...) as fm:` in a test of its own sizes
opened = contextmanager(open_page)


@pytest.fixture
def fm(browser: Any, server_url: str, api: Api) -> Iterator[FeatureMapsPage]:
    yield from open_page(browser, server_url, api, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser: Any, server_url: str, api: Api) -> Iterator[FeatureMapsPage]:
    """The page on a phone-sized touch screen."""
    yield from open_page(browser, server_url, api, viewport={"width": 390, "height": 844},
                         has_touch=True, is_mobile=True, device_scale_factor=2)


@pytest.fixture(scope="session")
def digit_files() -> dict[int, tuple[int, Path]]:
    """{MNIST test index: (label, path)} of the digits the page offers."""
    out = {}
    for path in sorted(DIGITS.glob("*.png")):
        index, label = path.stem.split("_label")
        out[int(index)] = (int(label), path)
    return out


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
