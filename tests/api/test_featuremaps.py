"""POST /api/v1/featuremaps: the wire format, both networks, real digits."""

from __future__ import annotations

import base64
import gzip
import io
import json
import struct
import urllib.parse
from typing import Any, TypedDict, cast

import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image
from starlette.testclient import TestClient

from app.api import wire
from app.api.routes.featuremaps import EncodingQuery, FormatQuery, ModelsQuery
from app.ml import preprocess
from app.ml.encode import dequantise
from tests.conftest import Upload, png_bytes

LAYERS = [("conv1", "conv", [32, 26, 26]), ("pool1", "pool", [32, 13, 13]),
          ("conv2", "conv", [64, 11, 11]), ("pool2", "pool", [64, 5, 5]),
          ("conv3", "conv", [64, 3, 3])]


class PixelsBody(TypedDict):
    """A JSON request of pixels, as TestClient.post's keyword argument (`**body`)."""

    json: dict[str, list[list[float]]]


def post_png(client: TestClient, png: bytes, query: str = "") -> dict[str, Any]:
    r = client.post(f"/api/v1/featuremaps{query}", files={"file": ("digit.png", png, "image/png")})
    assert r.status_code == 200, r.text
    return cast(dict[str, Any], r.json())


def test_both_networks_every_layer_by_default(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    label, png = test_digit_pngs[0]
    body = post_png(client, png)
    assert list(body["models"]) == ["max", "avg"]
    assert body["input"]["shape"] == [28, 28] and body["input"]["encoding"] == "uint8"
    assert len(base64.b64decode(body["input"]["data"])) == 784
    for net in body["models"].values():
        assert net["prediction"] == label == 7
        assert len(net["probabilities"]) == 10
        assert sum(net["probabilities"]) == pytest.approx(1.0, abs=1e-5)
        assert [(la["name"], la["kind"], la["shape"]) for la in net["layers"]] == LAYERS
        for layer in net["layers"]:
            c, h, w = layer["shape"]
            assert len(base64.b64decode(layer["data"])) == c * h * w
            assert len(layer["low"]) == len(layer["high"]) == c


def test_input_is_what_the_model_saw(client: TestClient,
                                     test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    _, png = test_digit_pngs[2]
    body = post_png(client, png, "?models=max")
    seen = np.frombuffer(base64.b64decode(body["input"]["data"]), np.uint8).reshape(28, 28)
    expected = preprocess.from_image(png, 10**6)
    np.testing.assert_array_equal(seen, np.rint(expected * 255).astype(np.uint8))


def test_an_answers_input_sent_back_as_pixels_gives_the_same_answer(client: TestClient) -> None:
    """The uint8 input of an answer is exactly what the networks saw: sent back as JSON
    pixels q/255 (as the page's link does), it gives the same maps to the byte (a teacher's
    review: a drawing opened from its link showed conv1's range 0.01 off)."""
    stroke = np.zeros((112, 112), np.uint8)
    for i in range(20, 92):  # a slanted stroke, anti-aliased by the scaling to 20 px
        stroke[i, 30 + i // 2: 39 + i // 2] = 255
    drawn = client.post("/api/v1/featuremaps", content=png_bytes(stroke),
                        headers={"Content-Type": "image/png"}).json()
    levels = np.frombuffer(base64.b64decode(drawn["input"]["data"]), np.uint8).reshape(28, 28)
    assert np.count_nonzero((levels > 0) & (levels < 255)) > 0  # levels between ink and paper
    pixels = {"pixels": (levels / 255).tolist(), "preprocess": False}
    again = client.post("/api/v1/featuremaps", json=pixels).json()
    assert again == drawn


def test_the_shipped_max_network_reads_real_mnist_digits(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    assert len(test_digit_pngs) == 10
    for label, png in test_digit_pngs.values():
        r = client.post("/api/v1/featuremaps?models=max", content=png,
                        headers={"content-type": "image/png"})
        assert r.json()["models"]["max"]["prediction"] == label


@pytest.mark.parametrize("encoding,dtype", [("float32", "<f4"), ("float16", "<f2")])
def test_float_encodings_are_little_endian_raw_values(client: TestClient, encoding: str,
                                                      dtype: str) -> None:
    pixels = np.zeros((28, 28))
    pixels[4:24, 12:16] = 1.0
    r = client.post(f"/api/v1/featuremaps?models=avg&encoding={encoding}",
                    json={"pixels": pixels.tolist()})
    body = r.json()
    x = np.frombuffer(base64.b64decode(body["input"]["data"]), dtype).reshape(28, 28)
    np.testing.assert_array_equal(x, pixels.astype(dtype))
    for layer in body["models"]["avg"]["layers"]:
        values = np.frombuffer(base64.b64decode(layer["data"]), dtype).reshape(layer["shape"])
        assert values.min(axis=(1, 2)) == pytest.approx(layer["low"], rel=1e-3, abs=1e-3)
        assert values.max(axis=(1, 2)) == pytest.approx(layer["high"], rel=1e-3, abs=1e-3)


def test_binary_format_carries_the_same_maps(client: TestClient,
                                             test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    _, png = test_digit_pngs[4]
    as_json = post_png(client, png)
    r = client.post("/api/v1/featuremaps", content=png,
                    headers={"content-type": "image/png", "accept": wire.BINARY_TYPE,
                             "accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"] == wire.BINARY_TYPE
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) < 40_000  # the live-update budget
    parsed = wire.parse_binary(r.content)  # the client already gunzipped it
    assert base64.b64decode(as_json["input"]["data"]) == parsed["input"]["data"]
    for name, net in as_json["models"].items():
        other = parsed["models"][name]
        assert other["prediction"] == net["prediction"]
        # to 7 significant digits, the unlikely classes too (found by an API review: to 7
        # decimal places they were 0, whose log is -inf)
        assert other["probabilities"] == pytest.approx(net["probabilities"], rel=1e-6, abs=0)
        assert min(net["probabilities"]) > 0
        for a, b in zip(net["layers"], other["layers"], strict=True):
            assert base64.b64decode(a["data"]) == b["data"]
            assert a["low"] == pytest.approx(b["low"], rel=1e-6, abs=1e-7)
            assert a["high"] == pytest.approx(b["high"], rel=1e-6, abs=1e-7)


def test_the_answer_says_when_the_input_is_blank(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """An empty drawing is valid and still gets answers, guesses about nothing: `blank` says
    so in JSON, in the binary format and in /shifts, so that a client need not scan the
    levels. It describes what the networks saw: a trace of ink below half a level is still
    ink, though its uint8 level is 0."""
    buf = io.BytesIO()
    Image.new("L", (64, 64)).save(buf, "PNG")
    empty = buf.getvalue()
    assert post_png(client, empty)["input"]["blank"] is True
    assert post_png(client, test_digit_pngs[0][1])["input"]["blank"] is False
    binary = client.post("/api/v1/featuremaps?format=binary", content=empty,
                         headers={"content-type": "image/png"})
    assert wire.parse_binary(binary.content)["input"]["blank"] is True
    shifts = client.post("/api/v1/shifts?models=max", content=empty,
                         headers={"content-type": "image/png"})
    assert shifts.json()["input"]["blank"] is True

    trace = np.zeros((28, 28))
    trace[14, 14] = 0.001
    body = client.post("/api/v1/featuremaps?models=max",
                       json={"pixels": trace.tolist(), "preprocess": False}).json()
    assert body["input"]["blank"] is False
    assert not any(base64.b64decode(body["input"]["data"]))


def test_the_binary_header_says_its_version_and_a_reader_refuses_another(
        client: TestClient) -> None:
    """A reader of the binary format (the page, parse_binary) checks the header's version, so
    a page or client kept from before a change of layout says so rather than misreading."""
    body = client.post("/api/v1/featuremaps?format=binary", json={"pixels": [[0.0] * 28] * 28},
                       headers={"accept-encoding": "identity"}).content
    (n,) = struct.unpack("<I", body[4:8])
    assert json.loads(body[8:8 + n])["version"] == wire.BINARY_VERSION == 1
    assert wire.parse_binary(body)["version"] == 1
    later = body.replace(b'"version":1,', b'"version":2,', 1)
    with pytest.raises(ValueError, match="binary format version 2; this reads version 1"):
        wire.parse_binary(later)


def test_binary_without_gzip_is_plain(client: TestClient) -> None:
    r = client.post("/api/v1/featuremaps?format=binary", json={"pixels": [[0.0] * 28] * 28},
                    headers={"accept-encoding": "identity"})
    assert "content-encoding" not in r.headers
    assert r.content[:4] == b"FMAP"
    with pytest.raises(OSError):
        gzip.decompress(r.content)


@pytest.mark.parametrize(("lines", "binary", "gzipped"), [
    ([("accept", "text/plain"), ("accept", wire.BINARY_TYPE)], True, True),
    ([("accept", wire.BINARY_TYPE), ("accept-encoding", "br"), ("accept-encoding", "gzip")],
     True, True),
    ([("accept", wire.BINARY_TYPE), ("accept-encoding", "gzip"),
      ("accept-encoding", "gzip;q=0")], True, False),
])
def test_a_list_header_given_on_several_lines_is_read_as_one(
        client: TestClient, lines: list[tuple[str, str]], binary: bool, gzipped: bool) -> None:
    """An API review: only the first line of Accept or Accept-Encoding was read, where RFC
    9110 says several mean their values joined by commas; each pair is answered as its one
    line is."""
    body = json.dumps({"pixels": [[0.0] * 28] * 28})
    typed = [("content-type", "application/json")]
    several = client.post("/api/v1/featuremaps", content=body, headers=[*typed, *lines])
    joined: dict[str, str] = dict(typed)
    for name, value in lines:
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    one = client.post("/api/v1/featuremaps", content=body, headers=joined)
    for r in (several, one):
        assert r.status_code == 200
        assert r.headers["content-type"] == (wire.BINARY_TYPE if binary else "application/json")
        assert (r.headers.get("content-encoding") == "gzip") is gzipped


def test_an_answer_chosen_by_accept_says_it_varies(client: TestClient) -> None:
    """Found by a review: a JSON answer chosen by reading Accept had no Vary, so a cache
    could give it to a client that asked for the binary format."""
    body: PixelsBody = {"json": {"pixels": [[0.0] * 28] * 28}}
    negotiated = client.post("/api/v1/featuremaps", **body)
    assert negotiated.headers["content-type"] == "application/json"
    assert negotiated.headers["vary"] == "Accept, Accept-Encoding"
    assert "vary" not in client.post("/api/v1/featuremaps?format=json", **body).headers
    # format=binary fixes the format: only the gzip depends on a header
    binary = client.post("/api/v1/featuremaps?format=binary", **body)
    assert binary.headers["vary"] == "Accept-Encoding"


def test_every_bad_query_parameter_is_reported_at_once(client: TestClient) -> None:
    """The route checks its own parameters (app/api/routes/featuremaps.py, strict_query) and
    reports them as FastAPI's validation does: every problem, in order, before an unknown
    parameter is looked at."""
    r = client.post("/api/v1/featuremaps?colour=red&models=Max&encoding=int4&format=xml",
                    json={"pixels": [[0.0] * 28] * 28})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "query parameter 'models': expected comma-separated names in lower case, without "
        "spaces, such as max,avg; got 'Max'; "
        "query parameter 'encoding': Input should be 'uint8', 'float16' or 'float32'; got "
        "'int4'; query parameter 'format': Input should be 'json' or 'binary'; got 'xml'")


def test_a_choice_given_with_a_plus_says_what_arrived(client: TestClient) -> None:
    """An API review: encoding=uint8+ (a + typed into an address is a space) was told to
    send 'uint8', which its sender believed it had."""
    for given, got in (("uint8+", "uint8 "), ("uint+8", "uint 8")):
        r = client.post(f"/api/v1/featuremaps?encoding={given}",
                        json={"pixels": [[0.0] * 28] * 28})
        assert r.status_code == 422
        assert r.json()["detail"] == (
            "query parameter 'encoding': Input should be 'uint8', 'float16' or 'float32'; got "
            f"{got!r} (a + or %20 in an address reads as a space)")


def test_an_image_with_a_channel_axis_is_told_to_drop_it(client: TestClient) -> None:
    """An API review: Keras' (28, 28, 1), x_train[0].tolist(), was told that it nested too
    deep and that several images go to the batch route."""
    r = client.post("/api/v1/featuremaps", json={"pixels": [[[0.0]] * 28] * 28})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "pixels has 3 axes (28 x 28 x 1); one image is 28 rows of 28 numbers in 0..1: drop "
        "its channel axis (x[..., 0] in NumPy)")
    # PyTorch's (1, 28, 28), channel first (a review of the first wording)
    r = client.post("/api/v1/featuremaps", json={"pixels": [[[0.0] * 28] * 28]})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "pixels has 3 axes (1 x 28 x 28); one image is 28 rows of 28 numbers in 0..1: drop "
        "its channel axis (x[0] in NumPy)")
    # one level deeper is refused unread, as any deeper nesting
    r = client.post("/api/v1/featuremaps", json={"pixels": [[[[0.0]]] * 28] * 28})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("JSON nested deeper than 4 levels; ")


def test_the_plain_query_parameters_are_documented_as_the_strict_ones(
        client: TestClient) -> None:
    """The route's parameters are plain strings carrying the strict types' schemas:
    its OpenAPI query parameters must equal those of a route declared with the strict types
    (the X-Request-ID header, which every operation takes, aside)."""
    reference = FastAPI()

    @reference.post("/api/v1/featuremaps")
    async def strict(models: ModelsQuery = None, encoding: EncodingQuery = "uint8",
                     format: FormatQuery = None) -> None:
        """Never called."""

    want = reference.openapi()["paths"]["/api/v1/featuremaps"]["post"]["parameters"]
    got = client.get("/openapi.json").json()["paths"]["/api/v1/featuremaps"]["post"]
    assert [p for p in got["parameters"] if p["in"] == "query"] == want


def test_server_timing_reports_the_server_side_steps(client: TestClient) -> None:
    r = client.post("/api/v1/featuremaps", json={"pixels": [[0.0] * 28] * 28})
    parts = dict(p.strip().split(";dur=") for p in r.headers["server-timing"].split(","))
    assert set(parts) == {"decode", "infer", "queue", "encode"}
    # each step timed, not written as 0 (a test audit): reading the JSON, the forward passes
    # and writing the answer each take a measurable part of a millisecond; the queue may not
    assert float(parts["queue"]) >= 0
    assert all(float(parts[step]) > 0 for step in ("decode", "infer", "encode"))


def test_ink_in_the_last_two_rows_and_columns_never_changes_the_answer(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """What pool2's note on the page says: 11 -> 5 leaves conv2's last row and column out,
    and with them every unit that reads the input's rows and columns 26-27. Ink there gives
    max and avg the answer they give without it, alone or beside a digit (a review read
    "alone" as if it could count beside other ink); in row 25 it does not."""
    _, png = test_digit_pngs[0]
    seven = np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float64) / 255

    def answer(ink: list[tuple[int, int]], under: np.ndarray | None = None
               ) -> dict[str, list[float]]:
        pixels = np.zeros((28, 28)) if under is None else under.copy()
        for row, col in ink:
            pixels[row, col] = 1.0
        r = client.post("/api/v1/featuremaps?models=max,avg&encoding=float32",
                        json={"pixels": pixels.tolist()})
        return {net: m["probabilities"] for net, m in r.json()["models"].items()}

    blank = answer([])
    edge = [(r, c) for r in range(28) for c in range(28) if r >= 26 or c >= 26]
    assert answer(edge) == blank
    assert answer(edge, seven) == answer([], seven)
    row25 = answer([(25, c) for c in range(4, 24)])
    assert all(row25[net] != blank[net] for net in ("max", "avg"))


def seven_on_paper(png: bytes, paper: int, ink: int, spot: int | None = None) -> bytes:
    """The sample 7 (`png`, light on black) as a 200x200 PNG photo: `ink` on `paper` levels,
    with a 10x20 patch of `spot` where given."""
    seven = np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float64) / 255
    big = np.asarray(Image.fromarray(np.uint8(seven * 255)).resize((200, 200)), np.float64) / 255
    grey = np.rint(paper + big * (ink - paper)).astype(np.uint8)
    if spot is not None:
        grey[150:160, 20:40] = spot
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("paper", "ink", "spot"), [
    (125, 25, None), (100, 20, None), (130, 250, None), (60, 230, None), (200, 255, None),
    # a glint on grey paper, a magnet on a board: the ink is still the ink (a review: a rule
    # of the side the picture reaches further read them as the ink)
    (200, 150, 255), (95, 160, 0)])
def test_ink_is_found_on_paper_of_any_level(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]], paper: int,
        ink: int, spot: int | None) -> None:
    """A later API review: black ink on paper under mid-grey (a dimly lit photo, paper at
    125) was taken for light ink on dark paper and clipped away, and chalk on a board over
    mid-grey was inverted: both answered as blank, with a confident digit. Where the paper's
    level leaves no ink, the other way round is tried."""
    body = post_png(client, seven_on_paper(test_digit_pngs[0][1], paper, ink, spot))
    assert body["input"]["blank"] is False
    for net in ("max", "avg"):
        assert body["models"][net]["prediction"] == 7, net


@pytest.mark.parametrize(("paper", "mark", "noise"), [
    (254, 255, 0.0), (240, None, 1.5), (230, None, 1.5), (200, 210, 0.0), (60, None, 1.5),
    (60, 45, 0.0)])
def test_an_empty_page_is_blank_on_paper_of_any_level(
        client: TestClient, paper: int, mark: int | None, noise: float) -> None:
    """An API review: where the paper's level left no ink, the other way round stretched what
    differed from the paper by the paper's distance from the far end, so a line one level
    lighter than paper at 254 became full ink, and a photo of an empty page (a sensor's noise
    of a few levels) a confident digit. Ink must stand out from the paper either way round
    as it must the usual way (a tenth of the paper's distance from the far end: 26 levels on
    white paper, 19 on paper at 60); a mark fainter than that, or noise, is no ink."""
    rng = np.random.default_rng(paper)
    grey = paper + rng.normal(0.0, noise, (300, 240))  # noise 0: the paper's level alone
    if mark is not None:
        grey[60:240, 118:124] = mark  # a stroke lighter or darker than the paper, faintly
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8)).save(buf, "PNG")
    body = post_png(client, buf.getvalue())
    assert body["input"]["blank"] is True
    assert not np.frombuffer(base64.b64decode(body["input"]["data"]), np.uint8).any()


def test_faint_pencil_is_read_alike_on_either_side_of_mid_grey(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """A review: pencil 22 levels darker than its paper was read on paper at 128 (light:
    inverted, then stretched) and lost at 127, where the other way round was held to 26
    levels. Either side of mid-grey, the same ink is held to the same bar, and read alike."""
    seen = {}
    for paper in (127, 128):
        body = post_png(client, seven_on_paper(test_digit_pngs[0][1], paper, paper - 22))
        assert body["input"]["blank"] is False, paper
        seen[paper] = np.frombuffer(base64.b64decode(body["input"]["data"]), np.uint8)
    below, above = (seen[p].astype(int) for p in (127, 128))
    assert below.max() > 100  # faint ink, stretched (at most 3 times)
    np.testing.assert_array_equal(below > 0, above > 0)
    assert np.abs(below - above).max() <= 3


def phone_photo(png: bytes, kind: str) -> bytes:
    """A sample digit (`png`, light on black) drawn dark (ink 30) at 160 px in the middle of
    a page 320 px wide: lit 60 levels darker on the left, as a noisy JPEG (noise of 12
    levels), or on even paper at 235 with a shadow (60) 16 px wide along the left edge."""
    digit = Image.open(io.BytesIO(png)).convert("L").resize((160, 160), Image.Resampling.BICUBIC)
    ink = np.zeros((320, 320))
    ink[80:240, 80:240] = np.asarray(digit, np.float64) / 255
    if kind == "lit unevenly, noisy":
        paper = np.tile(np.linspace(190, 250, 320), (320, 1))
        paper += np.random.default_rng(0).normal(0, 12, paper.shape)
    else:
        paper = np.full((320, 320), 235.0)
        paper[:, :16] = 60
    grey = np.clip(np.rint(paper * (1 - ink) + 30 * ink), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, "JPEG" if "noisy" in kind else "PNG", quality=80)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["lit unevenly, noisy", "shadowed at an edge"])
def test_a_phone_photo_of_a_digit_within_its_page_is_read_as_drawn(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]], kind: str) -> None:
    """A photo review: in a page twice the digit's width, paper lit unevenly, a noisy
    sensor's specks or a shadow along an edge were ink, the crop took them in, and the digit
    shrank to a few pixels (max read 20 to 43 of 100 test digits). Each of the page's ten
    sample digits, photographed so, is read right by both networks, its box the 20 px of
    MNIST's."""
    for label, png in test_digit_pngs.values():
        body = post_png(client, phone_photo(png, kind))
        for net in ("max", "avg"):
            assert body["models"][net]["prediction"] == label, (label, net)
        x = np.frombuffer(base64.b64decode(body["input"]["data"]), np.uint8).reshape(28, 28)
        rows, cols = np.flatnonzero(x.any(axis=1)), np.flatnonzero(x.any(axis=0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20, label


def test_a_digit_on_grey_paper_is_read_as_on_white(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """Found by an API review: a photo's paper at 200 of 255 was ink everywhere once inverted
    (0.22, above the ink threshold), nothing was cropped, and avg read a dark 7 on it as an 8
    with 95%. The paper's level is taken off: the 7 on grey paper is the 7 on white."""
    seen = {}
    for paper in (255, 200):
        body = post_png(client, seven_on_paper(test_digit_pngs[0][1], paper, 40))  # dark ink
        for net in ("max", "avg"):
            assert body["models"][net]["prediction"] == 7, (paper, net)
            assert max(body["models"][net]["probabilities"]) > 0.99, (paper, net)
        seen[paper] = np.frombuffer(base64.b64decode(body["input"]["data"]), np.uint8)
    grey_paper, white = (seen[p].reshape(28, 28).astype(int) for p in (200, 255))
    # the same ink, cropped and placed alike: 160 of 200 against 215 of 255 leaves it 4% fainter
    for axis in (0, 1):
        np.testing.assert_array_equal((grey_paper > 0).any(axis), (white > 0).any(axis))
    assert np.abs(grey_paper - white).max() <= 12


def test_json_pixels_with_preprocess_are_centred(client: TestClient) -> None:
    pixels = np.zeros((28, 28))
    pixels[0:10, 0:3] = 1.0  # a small stroke in the corner
    r = client.post("/api/v1/featuremaps?models=max",
                    json={"pixels": pixels.tolist(), "preprocess": True})
    x = np.frombuffer(base64.b64decode(r.json()["input"]["data"]), np.uint8).reshape(28, 28)
    rows = np.flatnonzero(x.any(axis=1))
    assert rows[-1] - rows[0] + 1 == 20


def test_json_pixels_with_preprocess_are_treated_as_an_image(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """Dark ink on light is inverted, as for an uploaded image: both give the same input."""
    label, png = test_digit_pngs[7]
    paper = 1.0 - np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float64) / 255.0
    as_image = client.post("/api/v1/featuremaps?models=max", content=png,
                           headers={"content-type": "image/png"}).json()
    as_pixels = client.post("/api/v1/featuremaps?models=max",
                            json={"pixels": paper.tolist(), "preprocess": True}).json()
    seen = [np.frombuffer(base64.b64decode(r["input"]["data"]), np.uint8).astype(int)
            for r in (as_image, as_pixels)]
    assert np.abs(seen[0] - seen[1]).max() <= 1
    assert as_pixels["models"]["max"]["prediction"] == label


def test_uint8_maps_decode_with_low_and_high(client: TestClient,
                                             test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    _, png = test_digit_pngs[1]
    q = post_png(client, png, "?models=max")["models"]["max"]["layers"][1]
    f = post_png(client, png, "?models=max&encoding=float32")["models"]["max"]["layers"][1]
    values = dequantise(np.frombuffer(base64.b64decode(q["data"]), np.uint8).reshape(q["shape"]),
                        np.array(q["low"]), np.array(q["high"]))
    exact = np.frombuffer(base64.b64decode(f["data"]), "<f4").reshape(f["shape"])
    step = (np.array(q["high"]) - np.array(q["low"]))[:, None, None] / 255
    assert (np.abs(values - exact) <= step / 2 + 1e-5).all()


def test_layer_png_is_a_grid_of_channels(client: TestClient,
                                         test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    from io import BytesIO

    from PIL import Image

    _, png = test_digit_pngs[0]
    r = client.post("/api/v1/featuremaps/max/pool1.png?scale=2", files={"file": ("d.png", png)})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert (r.headers["x-prediction"], r.headers["x-blank"]) == ("7", "false")
    img = Image.open(BytesIO(r.content))
    # 32 channels of 13x13 at scale 2: 8 per row, 4 rows, 1 px gutters
    assert img.size == (8 * 26 + 7, 4 * 26 + 3)
    one = client.post("/api/v1/featuremaps/avg/conv3.png?channel=5&scale=10",
                      files={"file": ("d.png", png)})
    assert Image.open(BytesIO(one.content)).size == (30, 30)
    # the lines between channels: white beside viridis; beside gray, where white is each
    # channel's top, a colour no map has (an API review: the maps ran into them)
    for colormap, line in (("viridis", (255, 255, 255)), ("gray", (64, 96, 160))):
        grid = client.post(f"/api/v1/featuremaps/max/pool1.png?scale=2&colormap={colormap}",
                           files={"file": ("d.png", png)})
        rgb = np.asarray(Image.open(BytesIO(grid.content)).convert("RGB"))
        gutters = np.zeros(rgb.shape[:2], bool)
        gutters[:, 26::27] = gutters[26::27, :] = True
        assert (rgb[gutters] == line).all(), colormap
        assert not (rgb[~gutters] == line).all(axis=1).any(), colormap


def test_layer_png_says_when_no_ink_survived(client: TestClient) -> None:
    """An API review: a photo whose ink was lost got a picture and a prediction, and nothing
    told a curl user that the networks saw an empty input, as the JSON answer's blank does."""
    empty = np.zeros((28, 28), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(empty).save(buf, "PNG")
    r = client.post("/api/v1/featuremaps/max/pool1.png", content=buf.getvalue(),
                    headers={"content-type": "image/png"})
    assert (r.status_code, r.headers["x-blank"]) == (200, "true")


def test_layer_png_one_channel_keeps_the_colours_it_has_in_the_grid(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """Found by a review: with channel=, norm=layer was ignored (the channel was cut out
    before the colours were scaled, so "the whole layer" was that channel alone). A channel
    drawn alone is now the same picture as its cell in the whole grid, in both scalings; in
    grey, the layer's brightest unit is 255 and the channel's own top 255 per channel."""
    from io import BytesIO

    from PIL import Image

    _, png = test_digit_pngs[0]

    def picture(query: str) -> np.ndarray:
        r = client.post(f"/api/v1/featuremaps/max/pool1.png?colormap=gray&scale=1&{query}",
                        content=png, headers={"content-type": "image/png"})
        assert r.status_code == 200
        return np.asarray(Image.open(BytesIO(r.content)))[:, :, 0]

    pool1 = post_png(client, png, "?models=max&encoding=float32")["models"]["max"]["layers"][1]
    assert pool1["name"] == "pool1"
    values = np.frombuffer(base64.b64decode(pool1["data"]), np.float32).reshape(32, 13, 13)
    channel = int(np.argsort(values.max(axis=(1, 2)))[16])  # one that is not the layer's top
    assert 0 < values[channel].max() < values.max()
    row, col = divmod(channel, 8)
    for norm in ("layer", "channel"):
        grid = picture(f"norm={norm}")
        cell = grid[row * 14:row * 14 + 13, col * 14:col * 14 + 13]
        alone = picture(f"norm={norm}&channel={channel}")
        np.testing.assert_array_equal(alone, cell)
        top = round(values[channel].max() / values.max() * 255) if norm == "layer" else 255
        assert int(alone.max()) == top, norm


@pytest.mark.parametrize("query", ["scale=2.0", "scale=%202", "channel=3&scale=1_0",
                                   "channel=0x3"])
def test_layer_png_numbers_are_written_in_digits(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]], query: str) -> None:
    _, png = test_digit_pngs[0]
    r = client.post(f"/api/v1/featuremaps/max/pool1.png?{query}", content=png,
                    headers={"content-type": "image/png"})
    name, given = urllib.parse.unquote_plus(query).split("&")[-1].split("=")
    plus = " (a + or %20 in an address reads as a space)" if given[0] == " " else ""
    assert (r.status_code, r.json()) == (422, {"detail": (
        f"query parameter {name!r}: should be a whole number written in digits, e.g. 3; "
        f"got {given!r}{plus}")})


def test_layer_png_refuses_a_picture_too_large_to_draw_cheaply(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """Found by a review: nopool conv2 at scale 32, a 6151x6151 PNG, held the inference
    thread for over a second and took 300 MB."""
    from io import BytesIO

    from PIL import Image

    _, png = test_digit_pngs[0]
    body: Upload = {"content": png, "headers": {"content-type": "image/png"}}
    r = client.post("/api/v1/featuremaps/nopool/conv2.png?scale=32", **body)
    assert (r.status_code, r.json()) == (422, {"detail": (
        "scale=32 would make a 6151x6151 picture (37,834,801 pixels); the limit is 8,388,608 "
        "pixels: use scale=15 or less for nopool conv2, or one channel=")})
    # the largest it names is drawn: 64 channels of 24x24 at 15 px, 8 by 8, 1 px gutters
    ok = client.post("/api/v1/featuremaps/nopool/conv2.png?scale=15", **body)
    assert ok.status_code == 200
    assert Image.open(BytesIO(ok.content)).size == (8 * 360 + 7, 8 * 360 + 7)
    # one channel at the largest scale is small
    one = client.post("/api/v1/featuremaps/nopool/conv2.png?scale=32&channel=3", **body)
    assert one.status_code == 200 and Image.open(BytesIO(one.content)).size == (768, 768)


def test_a_body_sent_as_a_form_is_read_by_what_it_is(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """Found by an API review: `curl --data-binary @digit.png` and Python's urllib, without a
    Content-Type, send a form's type, and the PNG was refused as a form. An image or JSON
    pixels sent so, or with no type (requests' data=), are answered as sent with their own
    type (form text is refused, other files told what they are: the bad-input corpus)."""
    _, png = test_digit_pngs[0]
    pixels = json.dumps({"pixels": (np.arange(784).reshape(28, 28) % 7 / 7).tolist()}).encode()
    untyped: tuple[dict[str, str], ...] = (  # a form's type, and none at all
        {"Content-Type": "application/x-www-form-urlencoded"}, {})
    for path in ("/api/v1/featuremaps", "/api/v1/featuremaps/max/pool1.png", "/api/v1/shifts"):
        for body, kind in ((png, "image/png"), (pixels, "application/json"),
                           (b"\xef\xbb\xbf\n" + pixels, "application/json")):  # a BOM first
            typed = client.post(path, content=body, headers={"Content-Type": kind})
            for headers in untyped:
                read = client.post(path, content=body, headers=headers)
                assert typed.status_code == read.status_code == 200, (path, kind, headers)
                assert read.content == typed.content, (path, kind, headers)


@pytest.mark.parametrize(("encoding", "dtype"), [("float32", "<f4"), ("float16", "<f2")])
def test_a_float_binary_answer_read_by_its_documented_layout_is_the_json_answer(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]], encoding: str,
        dtype: str) -> None:
    """wire.BINARY_FORMAT read here by its words, not by wire.parse_binary: the payload at
    8 + N rounded up to 4, each array at its own 4-byte-aligned offset, its length in bytes
    (the input 28*28 values, a map C*H*W, in the encoding; probabilities, lows and highs
    float32). The binary test above sends uint8, one byte a value, where a length or offset
    counted in values reads the same; in float32 the input is 3,136 bytes, max's conv1
    86,528."""
    _, png = test_digit_pngs[4]
    headers = {"content-type": "image/png"}
    as_json = client.post(f"/api/v1/featuremaps?encoding={encoding}", content=png,
                          headers=headers).json()
    body = client.post(f"/api/v1/featuremaps?encoding={encoding}&format=binary", content=png,
                       headers={**headers, "accept-encoding": "identity"}).content
    assert body[:4] == b"FMAP"
    n = int.from_bytes(body[4:8], "little")
    header = json.loads(body[8:8 + n].decode("utf-8"))
    start = (8 + n + 3) // 4 * 4
    assert body[8 + n:start] == bytes(start - 8 - n)
    payload = body[start:]
    spans: list[tuple[int, int]] = []

    def array(ref: dict[str, int], kind: str, count: int) -> np.ndarray:
        offset, length = ref["offset"], ref["length"]
        assert offset % 4 == 0 and length == count * np.dtype(kind).itemsize, ref
        spans.append((offset, offset + length))
        return np.frombuffer(payload[offset:offset + length], kind)

    size = np.dtype(dtype).itemsize
    assert header["input"]["data"] == {"offset": 0, "length": 784 * size}
    assert header["input"]["encoding"] == encoding
    x = array(header["input"]["data"], dtype, 28 * 28)
    assert x.tobytes() == base64.b64decode(as_json["input"]["data"])
    assert list(header["models"]) == list(as_json["models"]) == ["max", "avg"]
    for name, net in as_json["models"].items():
        other = header["models"][name]
        assert other["prediction"] == net["prediction"]
        probabilities = array(other["probabilities"], "<f4", 10)
        # JSON writes a probability to 7 significant digits, a low or high to 7 decimals
        assert [float(f"{p:.7g}") for p in probabilities.tolist()] == net["probabilities"]
        for a, b in zip(net["layers"], other["layers"], strict=True):
            assert (b["name"], b["shape"], b["encoding"]) == (a["name"], a["shape"], encoding)
            c, h, w = a["shape"]
            maps = array(b["data"], dtype, c * h * w)
            assert maps.tobytes() == base64.b64decode(a["data"]), (name, a["name"])
            for end in ("low", "high"):
                values = array(b[end], "<f4", c).astype(np.float64)
                assert values.round(7).tolist() == a[end], (name, a["name"], end)
    # every array apart, and the payload ends with the last of them
    spans.sort()
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))
    assert spans[-1][1] == len(payload)
    if encoding == "float32":
        assert header["models"]["max"]["layers"][0]["data"]["length"] == 86_528


def test_layer_png_defaults_to_scale_8_channel_colours_and_viridis(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """Without a query, a layer's .png is drawn as documented: scale 8, colours per channel,
    viridis. max's pool1 of the sample 7: 32 channels of 13x13 units of 8 px, 8 to a row with
    1 px lines, 839x419; per channel, each channel's top is viridis' last colour, so 32
    units (31 live channels' maxima and one within half a level of its own) of 64 pixels
    are that colour, where over the whole layer only its largest unit is. Scale is at most 32."""
    _, png = test_digit_pngs[0]
    body: Upload = {"content": png, "headers": {"content-type": "image/png"}}
    plain = client.post("/api/v1/featuremaps/max/pool1.png", **body)
    assert plain.status_code == 200
    picture = Image.open(io.BytesIO(plain.content))
    assert picture.size == (8 * 13 * 8 + 7, 4 * 13 * 8 + 3) == (839, 419)
    rgb = np.asarray(picture.convert("RGB"))
    # (the 32nd unit sits within half a level of its channel's top: another CPU's rounding
    # could leave it a level short, so 31 or 32)
    assert int((rgb == (253, 231, 37)).all(axis=2).sum()) in (31 * 64, 32 * 64)
    spelled = client.post("/api/v1/featuremaps/max/pool1.png?scale=8&norm=channel"
                          "&colormap=viridis", **body)
    assert spelled.content == plain.content
    r = client.post("/api/v1/featuremaps/max/pool1.png?scale=33", **body)
    assert (r.status_code, r.json()) == (422, {"detail": (
        "query parameter 'scale': Input should be less than or equal to 32")})
