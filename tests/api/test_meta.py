"""GET /healthz, GET /api/v1/models, /docs."""

from __future__ import annotations

import io
import json
import re
import urllib.parse
from typing import Any

import numpy as np
import pytest
from starlette.responses import FileResponse
from starlette.testclient import TestClient

from app.api.gate import busy
from app.api.routes import meta
from app.config import PROJECT_ROOT, Settings
from app.main import create_app
from app.ml import registry
from app.ml.batch import bytes_per_image, npz_size
from app.ml.names import brief
from app.ml.pack import Layout
from tests.conftest import MODELS_DIR


def test_healthz_reports_the_device(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["device"] == "cpu"
    assert {"max", "avg"} <= set(body["models"])


def test_liveness_and_metrics_are_never_answered_from_a_cache(client: TestClient) -> None:
    """An API review: no Cache-Control, so a cache in front could answer a liveness probe or
    a scrape with an old answer."""
    for path in ("/healthz", "/metrics"):
        r = client.get(path)
        assert (r.status_code, r.headers["cache-control"]) == (200, "no-store"), path
    # HEAD too, as HeadAsGet answers it from the GET
    assert client.head("/healthz").headers["cache-control"] == "no-store"


def test_the_models_routes_are_revalidated_by_their_etag(client: TestClient) -> None:
    """An API review: the models routes sent neither ETag nor Cache-Control, so the page and
    a notebook fetched the same answer at every load. Each carries one ETag, which changes
    only with the weights, device or version; a request that names it gets a bodiless 304."""
    paths = ("/api/v1/models", "/api/v1/models/max", "/api/v1/models/max/filters/conv1",
             "/api/v1/models/avg/filters/conv2?channel=3")
    first = [client.get(path) for path in paths]
    assert [r.status_code for r in first] == [200] * 4
    tag = first[0].headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{20}"', tag)
    assert {(r.headers["ETag"], r.headers["Cache-Control"]) for r in first} == {(tag, "no-cache")}
    for asked in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        for path in paths:
            for method in ("GET", "HEAD"):
                r = client.request(method, path, headers={"If-None-Match": asked})
                assert (r.status_code, r.content, r.headers["ETag"]) == (304, b"", tag), path
    # on two lines, as on one (an API review: only the first line was read)
    for path in (*paths, "/static/js/main.js"):
        current = client.get(path).headers["ETag"]
        r = client.get(path, headers=[("If-None-Match", '"other"'), ("If-None-Match", current)])
        assert r.status_code == 304, path
        r = client.get(path, headers=[("If-None-Match", '"other"'), ("If-None-Match", '"else"')])
        assert r.status_code == 200, path
    again = client.get(paths[0], headers={"If-None-Match": '"other"'})
    assert again.status_code == 200 and again.json() == first[0].json()
    # a name that is not there is its 404 whatever the tag (a 304 would say it was)
    r = client.get("/api/v1/models/nope", headers={"If-None-Match": tag})
    assert r.status_code == 404
    r = client.get("/api/v1/models/max/filters/pool1", headers={"If-None-Match": tag})
    assert r.status_code == 404
    # what the models route says makes the tag: other weights, another tag
    described = client.get("/api/v1/models").json()

    class Said:  # an engine, as far as etag() asks
        def __init__(self, sha: str) -> None:
            self.sha = sha

        def describe(self) -> dict[str, Any]:
            return {**described, "models": [{**described["models"][0],
                                             "weights_sha256": self.sha}]}

    def tag_of(sha: str) -> str:
        return meta.etag(Said(sha))  # type: ignore[arg-type]

    same = described["models"][0]["weights_sha256"]
    assert tag_of(same) == tag_of(same) != tag_of("0" * 64)


def test_the_openapi_document_says_how_the_models_routes_are_revalidated(
        client: TestClient) -> None:
    """An API review: the document gave the models routes a 304 but named neither the ETag
    nor the Cache-Control their answers carry, nor the If-None-Match that asks for it."""
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/models", "/api/v1/models/{model}",
                 "/api/v1/models/{model}/filters/{layer}"):
        operation = paths[path]["get"]
        asked = [p for p in operation["parameters"] if p["name"] == "If-None-Match"]
        assert [(p["in"], p["required"]) for p in asked] == [("header", False)], path
        for status in ("200", "304"):
            said = operation["responses"][status]["headers"]
            assert list(said) == ["ETag", "Cache-Control", "X-Request-ID"], (path, status)
            assert "`no-cache`" in said["Cache-Control"]["description"]
        assert "application/json" in operation["responses"]["200"]["content"]
    # the routes that carry no ETag are not said to
    for path in ("/healthz", "/api/v1/featuremaps"):
        operation = next(iter(paths[path].values()))
        assert "ETag" not in operation["responses"]["200"]["headers"], path


def test_a_static_files_name_with_a_slash_after_it_is_no_file(client: TestClient) -> None:
    """Found by a review: /static/css/page.css/ served the file, an address under which a
    page's relative links resolve wrongly; so did page.css/. and //css (a second review)."""
    for method in ("GET", "HEAD"):
        for path in ("/static/css/page.css/", "/static/css/page.css%2F.", "/static//css/page.css"):
            r = client.request(method, path)
            assert r.status_code == 404, (method, path)
    assert client.get("/static/css/page.css/").json() == {
        "detail": "no file at '/static/css/page.css/'"}


def test_head_answers_on_every_get_route(client: TestClient) -> None:
    """HEAD (curl -I, uptime checkers) on any GET route: the GET's status and headers, no
    body; a 405 that allows GET also allows HEAD."""
    for path, status in [("/healthz", 200), ("/", 200), ("/api/v1/models", 200),
                         ("/api/v1/models/max/filters/conv1", 200), ("/metrics", 200),
                         ("/openapi.json", 200), ("/static/css/page.css", 200),
                         ("/api/v1/models/max/filters/pool1", 404), ("/api/v1/live", 426)]:
        head, get = client.head(path), client.get(path)
        assert (head.status_code, get.status_code) == (status, status), path
        assert head.content == b"", path
        # /metrics grows between the two: the GET counts the HEAD
        for name in ("content-type",) + (("content-length",) if path != "/metrics" else ()):
            assert head.headers[name] == get.headers[name], (path, name)
    # a POST-only route still refuses HEAD, as it does GET
    assert client.head("/api/v1/featuremaps").headers["allow"] == "POST"
    refused = client.delete("/api/v1/models")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    assert refused.json() == {"detail": "DELETE is not allowed at this address; it takes GET, HEAD"}
    # curl -T sends a PUT (found by a review: 'Method Not Allowed' alone)
    put = client.put("/api/v1/featuremaps", content=b"x")
    assert (put.status_code, put.json()) == (405, {"detail": (
        "PUT is not allowed at this address; it takes POST (curl -T sends a PUT: send the file "
        "with --data-binary @file)")})


def test_static_files_are_asked_again_at_each_use(client: TestClient) -> None:
    """An API review: no Cache-Control, so a browser could keep the page's modules, which
    are not named by version, for a tenth of their age: old beside new after an upgrade.
    They are revalidated each time, a 304 while unchanged."""
    first = client.get("/static/js/main.js")
    assert first.headers["cache-control"] == "no-cache"
    again = client.get("/static/js/main.js", headers={"if-none-match": first.headers["etag"]})
    assert (again.status_code, again.headers["cache-control"]) == (304, "no-cache")


def test_head_on_a_static_file_does_not_read_it(client: TestClient,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """StaticFiles answers HEAD from the file's size and date: a check of a big asset's
    headers does not read the asset."""
    get = client.get("/static/css/page.css")

    def unread(self: FileResponse) -> None:
        raise AssertionError(f"{self.path} was opened for a HEAD")

    monkeypatch.setattr(FileResponse, "_open_file", unread)
    head = client.head("/static/css/page.css")
    assert head.status_code == 200 and head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified"):
        assert head.headers[name] == get.headers[name], name


def test_a_static_files_range_is_served_ignored_or_refused_in_words(client: TestClient) -> None:
    """Found by a review: a Range past a file's end got an empty plain-text 416, and one the
    server cannot read a plain-text 400, where RFC 9110 lets it be ignored. A second review:
    a set with one range within the file is no 416, and 'last before first' is invalid
    however large the numbers."""
    css = (PROJECT_ROOT / "static" / "css" / "page.css").read_bytes()
    size = len(css)
    for wanted, (first, last) in {"bytes=10-19": (10, 19), "bytes=-5": (size - 5, size - 1),
                                  f"bytes=0-1,{size}-": (0, 1), "bytes=0-1,0-0": (0, 1),
                                  f"bytes={size - 1}-{'9' * 5000}": (size - 1, size - 1)
                                  }.items():
        part = client.get("/static/css/page.css", headers={"range": wanted})
        assert (part.status_code, part.content) == (206, css[first:last + 1]), wanted
        assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
    two = client.get("/static/css/page.css", headers={"range": "bytes=0-1,4-5"})
    assert two.status_code == 206
    assert two.headers["content-type"].startswith("multipart/byteranges")
    for unreadable in ("bytes=abc", "items=0-9", "bytes=19-10", "bytes=99999999-5",
                       "bytes=+5-6", "bytes=1_0-20", "bytes=", "bytes=,", f"{'9' * 5000}"):
        whole = client.get("/static/css/page.css", headers={"range": unreadable})
        assert (whole.status_code, whole.content) == (200, css), unreadable
        assert "content-range" not in whole.headers
    for method, wanted in (("GET", f"bytes={size}-"), ("HEAD", f"bytes={size}-"),
                           ("GET", "bytes=-0"), ("GET", f"bytes={'9' * 5000}-")):
        past = client.request(method, "/static/css/page.css", headers={"range": wanted})
        assert past.status_code == 416, wanted
        assert past.headers["content-range"] == f"bytes */{size}"
        assert past.headers["content-type"] == "application/json"
        if method == "GET":
            assert past.json() == {"detail": (
                f"no range of {brief(wanted)} lies within this file, which is {size:,} bytes")}
    assert client.get("/healthz").status_code == 200


def test_models_describe_layers_params_fields_and_cards(client: TestClient) -> None:
    body = client.get("/api/v1/models").json()
    assert body["device"] == "cpu"
    by_name = {m["name"]: m for m in body["models"]}
    for variant in ("max", "avg"):
        m = by_name[variant]
        assert m["params"] == 93_322
        assert [(la["name"], la["shape"], la["params"]) for la in m["layers"]] == [
            ("conv1", [32, 26, 26], 320), ("pool1", [32, 13, 13], 0),
            ("conv2", [64, 11, 11], 18_496), ("pool2", [64, 5, 5], 0),
            ("conv3", [64, 3, 3], 36_928)]
        fields = {la["name"]: la["receptive_field"] for la in m["layers"]}
        assert fields["conv1"] == {"size": 3, "jump": 1, "start": 1.0}
        assert fields["pool1"] == {"size": 4, "jump": 2, "start": 1.5}
        assert fields["conv3"] == {"size": 18, "jump": 4, "start": 8.5}
        pool1 = m["layers"][1]["reads"]
        assert pool1 == {"layer": "conv1", "kernel": 2, "stride": 2, "padding": 0}
        card = registry.read_card(MODELS_DIR, variant)
        assert m["test_accuracy"] == card["test_accuracy"]
        assert m["valid_accuracy"] == card["valid_accuracy"]
        assert m["shift_consistency"] == card["shift_consistency"]
        assert m["weights_sha256"] == card["weights_sha256"]
        assert m["seed"] == card["seed"] == 20261127
        assert m["augmentation"] == {"shift_px": 2.5, "rotate_deg": 12.0, "scale": [0.85, 1.1]}
        # the words and figures the page shows of each network (a test audit: a title given
        # as its downsampling, a wrong card key for the epochs, dense1 of 32 units passed)
        assert (m["title"], m["epochs"]) == ({"max": "Max pooling", "avg": "Average pooling"}[
            variant], 12)
        assert m["dense"] == [{"name": "dense1", "units": 64, "params": 36_928},
                              {"name": "dense2", "units": 10, "params": 650}]
        # the channels dead on all of MNIST's test digits, as the card records them (measured
        # against the data in tests/unit/test_accuracy.py): conv1's 30 in both, and its pool
        silent = {la["name"]: la["silent_channels"] for la in m["layers"]}
        assert silent == card["silent_channels"]
        assert silent["conv1"] == silent["pool1"] == [30]
        assert silent["conv2"] == silent["pool2"]
    assert {name: (m["title"], m["downsampling"]) for name, m in by_name.items()} == {
        "max": ("Max pooling", "MaxPool2d(2) after conv1 and conv2"),
        "avg": ("Average pooling", "AvgPool2d(2) after conv1 and conv2"),
        "strided": ("Strided convolution", "stride 2 in conv1 and conv2, no pooling"),
        "nopool": ("No downsampling", "none: the article's model_no_max_pool"),
        "blurmax": ("Blurred max pooling",
                    "max (stride 1), then a fixed 3x3 binomial blur, stride 2")}
    assert {la["name"]: la["silent_channels"] for la in by_name["max"]["layers"]} == {
        "conv1": [30], "pool1": [30], "conv2": [13, 23, 31], "pool2": [13, 23, 31],
        "conv3": [12, 14, 23, 38, 51]}
    # the shift lab and Why downsample? quote these (the cards' figures): the median of eleven
    # draws of shifts, each draw given (a teacher's review: the one draw the cards held was
    # avg's best, and a draw moves a figure by as much as the gaps)
    assert (by_name["max"]["shift_consistency"], by_name["avg"]["shift_consistency"]) == (
        0.9869, 0.9836)
    for m in by_name.values():
        draws = m["shift_consistency_draws"]
        assert len(draws) == 11 and sorted(draws)[5] == m["shift_consistency"], m["name"]
    assert by_name["max"]["shift_consistency_draws"][0] == 0.987  # seed 0, the one draw before
    assert sum(a > b for a, b in zip(by_name["max"]["shift_consistency_draws"],
                                     by_name["avg"]["shift_consistency_draws"],
                                     strict=True)) == 11


def test_blurmax_receptive_fields_follow_its_padded_4x4_pools(client: TestClient) -> None:
    """blurmax's pools (max 2x2 at stride 1, then a 3x3 blur at stride 2 with padding 1) read
    a 4x4 window at stride 2 from one unit before. Layer by layer, from size 1, jump 1,
    start 0: size += (kernel - 1) * jump, start += ((kernel - 1) / 2 - padding) * jump,
    then jump *= stride:
    conv1 (k3 s1 p0): size 1 + 2 = 3, start 0 + 1 = 1.0, jump 1;
    pool1 (k4 s2 p1): size 3 + 3 = 6, start 1 + 0.5 = 1.5, jump 2;
    conv2 (k3 s1 p0): size 6 + 2*2 = 10, start 1.5 + 2 = 3.5, jump 2;
    pool2 (k4 s2 p1): size 10 + 3*2 = 16, start 3.5 + 0.5*2 = 4.5, jump 4;
    conv3 (k3 s1 p0): size 16 + 2*4 = 24 (the README's 24x24), start 4.5 + 4 = 8.5, jump 4."""
    models = {m["name"]: m for m in client.get("/api/v1/models").json()["models"]}
    fields = {la["name"]: la["receptive_field"] for la in models["blurmax"]["layers"]}
    assert fields == {
        "conv1": {"size": 3, "jump": 1, "start": 1.0},
        "pool1": {"size": 6, "jump": 2, "start": 1.5},
        "conv2": {"size": 10, "jump": 2, "start": 3.5},
        "pool2": {"size": 16, "jump": 4, "start": 4.5},
        "conv3": {"size": 24, "jump": 4, "start": 8.5}}
    pool1 = models["blurmax"]["layers"][1]["reads"]
    assert pool1 == {"layer": "conv1", "kernel": 4, "stride": 2, "padding": 1}
    # which a science review read as a 4x4 pool with zero padding: the schema says what the
    # numbers are, and blurmax's mirrored edge
    reads = client.get("/openapi.json").json()["components"]["schemas"]["Reads"]["properties"]
    assert "a 2x2 max then a 3x3 blur of stride 2, reads 4 in all" in reads["kernel"]["description"]
    assert "an edge unit reads 3 units, one of them twice" in reads["padding"]["description"]


def test_the_openapi_document_covers_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/featuremaps", "/api/v1/featuremaps/{model}/{layer}.png",
                 "/api/v1/models", "/healthz", "/metrics"):
        assert path in paths
    body = paths["/api/v1/featuremaps"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "image/png", "application/json"} <= set(body)
    assert "example" in body["application/json"]
    # every JSON image body has the same example, added as the document is built (no work at
    # import time)
    examples = [op["requestBody"]["content"]["application/json"].get("example")
                for path in paths.values() for op in path.values()
                if "pixels" in op.get("requestBody", {}).get("content", {})
                .get("application/json", {}).get("schema", {}).get("properties", {})]
    assert len(examples) == 3 and all(e == body["application/json"]["example"] for e in examples)
    assert client.get("/docs").status_code == 200


def test_the_documented_examples_and_formats_are_usable_from_the_docs_alone(
        client: TestClient) -> None:
    """Found by an API user's review of /docs: the JSON example was a blank image (a guess of
    1), the binary format was 'see app/api/wire.py', a file no one reading /docs can open,
    and the batch answer's names rendered as '/' ('<model>/<layer>' read as a tag)."""
    paths = client.get("/openapi.json").json()["paths"]
    post = paths["/api/v1/featuremaps"]["post"]
    example = post["requestBody"]["content"]["application/json"]["example"]
    answer = client.post("/api/v1/featuremaps", json=example).json()
    assert [answer["models"][net]["prediction"] for net in ("max", "avg")] == [7, 7]
    binary = post["responses"]["200"]["description"]
    assert 'magic b"FMAP"' in binary and "header length N, uint32 little-endian" in binary
    assert "wire.py" not in json.dumps(paths)
    # a docstring is an operation's public description: the notes on why the code is as it is
    # stay in comments (an API review found one in GET /api/v1/models/{model}'s)
    assert not re.search(r"\breview", client.get("/openapi.json").text, re.IGNORECASE)
    batch = paths["/api/v1/featuremaps/batch"]["post"]
    assert "`{model}/{layer}/low`" in batch["responses"]["200"]["description"]
    assert "<" not in batch["responses"]["200"]["description"]
    # the sizes it quotes are the layout's own
    engine = client.app.state.engine  # type: ignore[attr-defined]
    nets = engine.nets(["max", "avg"])
    every, pool2 = (bytes_per_image(Layout.plan(nets, layers)) for layers in (None, ["pool2"]))
    test_set = npz_size(Layout.plan(nets), 10_000)
    floats = bytes_per_image(Layout.plan(nets), "float32")
    assert (f"every map of max and avg takes {every:,} bytes an image as uint8 (float32: "
            f"{floats:,}; the 10,000 MNIST test images: {test_set / 1e6:.0f} MB), pool2 alone "
            f"{pool2:,}") in batch["description"]
    assert "at most 40,000 images" in batch["description"]
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert (f"every map of max and avg is {every:,} bytes an image as uint8, pool2 alone "
            f"{pool2:,}") in readme


def test_each_documented_error_example_is_what_the_server_answers() -> None:
    """Found by reviews of /docs: every status showed one example, an unknown model, which
    is a 422; then the batch and .png routes showed answers they cannot give. Each route's
    example of each status is provoked here on a server with the default settings and
    compared word for word."""
    png = (PROJECT_ROOT / "static" / "digits" / "0000_label7.png").read_bytes()
    fm, batch, shifts = "/api/v1/featuremaps", "/api/v1/featuremaps/batch", "/api/v1/shifts"
    layer_png = f"{fm}/{{model}}/{{layer}}.png"
    zeros = io.BytesIO()
    np.save(zeros, np.zeros((10_000, 28, 28), np.uint8))
    as_png, raw = {"content-type": "image/png"}, {"content-type": "application/octet-stream"}
    provoked = {
        (fm, 400): (f"{fm}?model=max", png, as_png),
        (fm, 413): (fm, b"\0" * (2 * 2**20 + 1), as_png),
        (fm, 415): (fm, b"hello", {"content-type": "text/plain"}),
        (fm, 422): (f"{fm}?models=maxx", png, as_png),
        (shifts, 400): (f"{shifts}?model=max", png, as_png),
        (layer_png, 400): (f"{fm}/max/pool1.png?model=max", png, as_png),
        (layer_png, 422): (f"{fm}/max/conv1.png?scale=32", png, as_png),
        (batch, 400): (batch, b"", raw),
        (batch, 413): (batch, b"\0" * (32 * 2**20 + 1), raw),
        (batch, 415): (batch, b'{"pixels": []}', {"content-type": "application/json"}),
        (batch, 422): (batch, zeros.getvalue(), raw),
    }
    settings = Settings(device="cpu", models_dir=MODELS_DIR, access_log=False)
    with TestClient(create_app(settings)) as client:
        paths = client.get("/openapi.json").json()["paths"]

        def example(path: str, status: int) -> Any:
            documented = paths[path]["post"]["responses"][str(status)]
            return documented["content"]["application/json"]["example"]

        for (path, status), (url, body, headers) in provoked.items():
            r = client.post(url, content=body, headers=headers)
            assert (r.status_code, r.json()) == (status, example(path, status)), (path, status)
        filters = "/api/v1/models/{model}/filters/{layer}"
        for path, status, url in (
                ("/healthz", 400, "/healthz?x=1"), ("/metrics", 400, "/metrics?x=1"),
                ("/api/v1/models", 400, "/api/v1/models?x=1"),
                (filters, 400, "/api/v1/models/max/filters/conv1?x=1"),
                (filters, 422, "/api/v1/models/max/filters/conv1?channel=99")):
            documented = paths[path]["get"]["responses"][str(status)]
            r = client.get(url)
            assert (r.status_code, r.json()) == (
                status, documented["content"]["application/json"]["example"]), url
    # a 503 needs a full gate: its words are the gate's, at each route's default limit
    for path, limit, what in ((fm, settings.max_inflight, "inference"),
                              (shifts, settings.max_inflight, "inference"),
                              (batch, settings.max_batch_inflight, "batch")):
        assert example(path, 503) == {"detail": busy(limit, what)}, path
    # a 408 needs a stalled upload (tests/api/test_stalled_upload.py): the middleware's words
    for path, half, whole in ((fm, "1,048,576", "2,097,152"), (shifts, "1,048,576", "2,097,152"),
                              (layer_png, "1,048,576", "2,097,152"),
                              (batch, "16,777,216", "33,554,432")):
        assert example(path, 408) == {"detail": f"request body not received within 120 s: "
                                                f"{half} of {whole} bytes came; send it again, "
                                                "faster (FEATUREMAPS_BODY_TIMEOUT_S)"}, path
    # a JSON body's own limit, far under the upload limit, is said beside it (an API review:
    # only the 2 MiB was documented, and 300 KB of JSON got a 413)
    for path in (fm, shifts, layer_png):
        assert "a JSON body over 256 KiB" in paths[path]["post"]["responses"]["413"]["description"]


def test_only_the_route_with_names_in_its_path_documents_a_404(client: TestClient) -> None:
    """Found by a review: every POST route listed 404 "unknown model or layer in the path";
    an unknown name in a query parameter is a 422, and only the .png route has names in its
    path."""
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/featuremaps", "/api/v1/shifts", "/api/v1/featuremaps/batch"):
        assert "404" not in paths[path]["post"]["responses"], path
    assert "404" in paths["/api/v1/featuremaps/{model}/{layer}.png"]["post"]["responses"]
    r = client.post("/api/v1/featuremaps/maxx/pool1.png", json={"pixels": [[0.0] * 28] * 28})
    assert r.status_code == 404 and r.json()["detail"].startswith("unknown model 'maxx'")


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/models", "/api/v1/models/max", "/metrics"])
def test_a_get_endpoint_refuses_query_parameters(client: TestClient, path: str) -> None:
    r = client.get(f"{path}?x=1")
    # "accepted: none" read as a parameter called none (an API review)
    assert (r.status_code, r.json()) == (400, {"detail": "unknown query parameter 'x'; "
                                                         "this route takes no query parameters"})


def test_one_model_is_described_at_its_own_address(client: TestClient) -> None:
    """An API review: GET /api/v1/models/max, the address a newcomer tries first, got the 404
    of an address nothing answers. It answers the network as /api/v1/models lists it."""
    listed = client.get("/api/v1/models").json()["models"]
    for entry in listed:
        r = client.get(f"/api/v1/models/{entry['name']}")
        assert (r.status_code, r.json()) == (200, entry)
    assert [m["name"] for m in listed] == ["max", "avg", "strided", "nopool", "blurmax"]
    r = client.get("/api/v1/models/maxx")
    assert (r.status_code, r.json()) == (404, {"detail": "unknown model 'maxx'; this server "
                                                         "has max, avg, strided, nopool, blurmax"})
    doc = client.get("/openapi.json").json()["paths"]["/api/v1/models/{model}"]["get"]
    assert doc["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ModelInfo"}
    assert "404" in doc["responses"]


def test_every_documented_error_is_a_detail_sentence(client: TestClient) -> None:
    """Every error answers {"detail": a sentence}, FastAPI's own 422s included (found by an
    API review: GET /api/v1/models/{model} documented FastAPI's list of objects, a type no
    answer has, and a client generated from the document got it)."""
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(spec)
    assert "ValidationError" not in spec["components"]["schemas"]
    errors = [(path, method, code, media["schema"])
              for path, operations in spec["paths"].items()
              for method, op in operations.items() for code, response in op["responses"].items()
              if code[0] in "45" for media in response.get("content", {}).values()]
    assert len(errors) > 20
    for path, method, code, schema in errors:
        assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, method, code)
    # and a 422 really is one
    r = client.get("/api/v1/models/max/filters/conv1?channel=x")
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


def test_a_422_is_documented_only_where_a_request_can_get_one(client: TestClient) -> None:
    """Found by an API review: GET /api/v1/models/{model}, whose one parameter is any
    string, listed FastAPI's 422, which no request gets; the routes with numbers, choices
    or a body keep theirs."""
    paths = client.get("/openapi.json").json()["paths"]
    documented = sorted((method, path) for path, operations in paths.items()
                        for method, op in operations.items() if "422" in op["responses"])
    assert documented == [
        ("get", "/api/v1/models/{model}/filters/{layer}"),
        ("post", "/api/v1/featuremaps"), ("post", "/api/v1/featuremaps/batch"),
        ("post", "/api/v1/featuremaps/{model}/{layer}.png"), ("post", "/api/v1/shifts")]
    for model in ("max", "x" * 300, "%00", "1e400"):
        assert client.get(f"/api/v1/models/{model}").status_code in (200, 404)


def test_only_plain_strings_that_may_be_left_out_cannot_fail_validation() -> None:
    """The rule that drops FastAPI's own 422 (a review: a required query string, which a
    request may leave out and get a 422 for, was taken as unable to fail)."""
    from app.api.errors import _cannot_fail_validation

    def op(*params: dict[str, Any], body: bool = False) -> dict[str, Any]:
        return {"parameters": list(params), **({"requestBody": {}} if body else {})}

    plain = {"type": "string", "title": "Model"}
    request_id = {"name": "X-Request-ID", "in": "header", "required": False,
                  "schema": {"type": "string", "pattern": "^[a-z]+$"}}
    assert _cannot_fail_validation(op({"name": "model", "in": "path", "required": True,
                                       "schema": plain}, request_id))
    assert _cannot_fail_validation(op({"name": "q", "in": "query", "schema": plain}))
    assert not _cannot_fail_validation(op({"name": "q", "in": "query", "required": True,
                                           "schema": plain}))
    assert not _cannot_fail_validation(op({"name": "h", "in": "header", "required": True,
                                           "schema": plain}))
    assert not _cannot_fail_validation(op({"name": "n", "in": "query", "schema": {
        "type": "string", "pattern": "^[0-9]+$"}}))
    assert not _cannot_fail_validation(op({"name": "n", "in": "query",
                                           "schema": {"type": "integer"}}))
    assert not _cannot_fail_validation(op(body=True))


def test_every_endpoint_documents_its_400(client: TestClient) -> None:
    """Each endpoint refuses a query parameter it does not take with a 400, so each lists
    one, with the error body; the live socket's plain GET is a 426 whatever it carries."""
    spec = client.get("/openapi.json").json()
    assert "ErrorOut" in spec["components"]["schemas"]
    paths = spec["paths"]
    for path, operations in paths.items():
        for method, op in operations.items():
            if (method, path) == ("get", "/api/v1/live"):
                continue
            assert "400" in op["responses"], (method, path)
            schema = op["responses"]["400"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path)


def test_a_conv_layers_filters_are_the_weights_file_s(client: TestClient) -> None:
    """What a channel looks for: its weights and bias, exactly as the weights file holds
    them (float32, sent as JSON numbers)."""
    from safetensors.numpy import load_file

    stored = load_file(str(MODELS_DIR / "max.safetensors"))
    r = client.get("/api/v1/models/max/filters/conv1")
    assert r.status_code == 200
    body = r.json()
    assert (body["model"], body["layer"], body["shape"]) == ("max", "conv1", [32, 1, 3, 3])
    np.testing.assert_array_equal(np.asarray(body["weights"], np.float32),
                                  stored["conv1.weight"])
    np.testing.assert_array_equal(np.asarray(body["bias"], np.float32), stored["conv1.bias"])
    assert body["channel"] is None
    deeper = client.get("/api/v1/models/avg/filters/conv2").json()
    assert deeper["shape"] == [64, 32, 3, 3] and len(deeper["bias"]) == 64
    # one channel, what the page asks for: its filters and bias alone
    one = client.get("/api/v1/models/max/filters/conv1?channel=7").json()
    assert (one["channel"], one["shape"]) == (7, [1, 1, 3, 3])
    np.testing.assert_array_equal(np.asarray(one["weights"], np.float32),
                                  stored["conv1.weight"][7:8])
    assert one["bias"] == [float(stored["conv1.bias"][7])]
    wide = client.get("/api/v1/models/max/filters/conv1?channel=32")
    assert (wide.status_code, wide.json()) == (422, {
        "detail": "channel 32 out of range: conv1 has channels 0..31"})


@pytest.mark.parametrize("given", ["1.0", "%2B1", "+1", "1_0", "--1", "-", "", "%D9%A1"])
def test_filters_channel_is_written_in_digits(client: TestClient, given: str) -> None:
    """pydantic's lax integers took channel=1.0, +1, " 1" and 1_0 (which is ten): a typo
    could answer with another channel than the one meant."""
    r = client.get(f"/api/v1/models/max/filters/conv1?channel={given}")
    shown = urllib.parse.unquote_plus(given)
    # +1 typed into an address arrives as " 1": said so (found by an API review)
    plus = " (a + or %20 in an address reads as a space)" if shown[:1] == " " else ""
    assert (r.status_code, r.json()) == (422, {"detail": (
        f"query parameter 'channel': should be a whole number written in digits, e.g. 3; "
        f"got {shown!r}{plus}")})
    assert client.get("/api/v1/models/max/filters/conv1?channel=010").json()["channel"] == 10


@pytest.mark.parametrize("url", ["/api/v1/models/max/filters/conv1?channel=-1",
                                 "/api/v1/featuremaps/max/pool1.png?channel=-1",
                                 "/api/v1/featuremaps/max/pool1.png?scale=-3"])
def test_a_negative_number_is_told_what_is_allowed(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]], url: str) -> None:
    """Found by an API review: channel=-1 was told to write a whole number in digits,
    which it was; the range is what it is out of."""
    name = url.split("?")[1].split("=")[0]
    least = 1 if name == "scale" else 0
    if ".png?" in url:
        r = client.post(url, content=test_digit_pngs[0][1], headers={"content-type": "image/png"})
    else:
        r = client.get(url)
    assert (r.status_code, r.json()) == (422, {"detail": (
        f"query parameter {name!r}: Input should be greater than or equal to {least}")})


def test_a_channel_of_thousands_of_digits_is_said_in_the_apis_words(client: TestClient) -> None:
    """Found by an API review: past 4,300 digits pydantic said its parser's limit was
    exceeded; 40 digits were "out of range", as they still are."""
    r = client.get(f"/api/v1/models/max/filters/conv1?channel={'9' * 5000}")
    assert (r.status_code, r.json()) == (422, {"detail": (
        f"query parameter 'channel': should be a whole number of at most 100 digits; got "
        f"'{'9' * 64}...', 5,000 digits")})
    r = client.get(f"/api/v1/models/max/filters/conv1?channel={'9' * 40}")
    assert r.json()["detail"].endswith("out of range: conv1 has channels 0..31")


@pytest.mark.parametrize(("path", "detail"), [
    ("/api/v1/models/max/filters/pool1", "max pool1 is a pooling layer: it learns no filters"),
    ("/api/v1/models/maxx/filters/conv1",
     "unknown model 'maxx'; this server has max, avg, strided, nopool, blurmax"),
    ("/api/v1/models/strided/filters/pool1",
     "model 'strided' has no layer 'pool1'; its layers are conv1, conv2, conv3"),
])
def test_filters_of_what_has_none_are_a_404(client: TestClient, path: str,
                                             detail: str) -> None:
    r = client.get(path)
    assert (r.status_code, r.json()) == (404, {"detail": detail})


@pytest.mark.parametrize("method, path, then", [
    ("POST", "/api/v1/featuremaps/", "; send it without"),
    ("POST", "/api/v1/featuremaps/batch/", "; send it without"),
    ("POST", "/api/v1/shifts//", "; send it without"),
    # where the address without it does not take the method, what it takes (a later API
    # review: told to send it without, the POST then got a 405)
    ("PUT", "/api/v1/models/", ", and takes GET, HEAD, not PUT"),
    ("POST", "/api/v1/models/max/filters/conv1/", ", and takes GET, HEAD, not POST"),
    ("PUT", "/api/v1/featuremaps/batch/", ", and takes POST, not PUT"),
    ("DELETE", "/healthz/", ", and takes GET, HEAD, not DELETE"),
    # and a GET, which is redirected only where the address takes it (a review of that)
    ("GET", "/api/v1/featuremaps/", ", and takes POST, not GET")])
def test_a_routes_address_with_a_trailing_slash_is_a_404_that_names_it(
        client: TestClient, method: str, path: str, then: str) -> None:
    """Found by an API review: FastAPI redirected such an address with a 307, so a POST's
    client sent its body twice (a batch of 32 MiB), and curl without -L got an empty answer."""
    r = client.request(method, path, content=b"{}", follow_redirects=False)
    assert (r.status_code, r.json()) == (404, {"detail": (
        f"no route at '{path}': the address has no trailing slash{then}")})
    other = client.post("/api/v1/nope/", follow_redirects=False)  # no route either way
    assert (other.status_code, other.json()) == (404, {
        "detail": "no route at '/api/v1/nope/': the API's /docs page lists its routes"})


@pytest.mark.parametrize(("path", "detail"), [
    ("/api/v1/featuremaps/max/pool1",
     "no route at '/api/v1/featuremaps/max/pool1': a layer's picture is at this address with "
     ".png added"),
    ("/api/v1/model", "no route at '/api/v1/model': the API's /docs page lists its routes"),
    ("/static/css/nope.css", "no file at '/static/css/nope.css'"),
])
def test_an_address_nothing_answers_says_so_in_words(client: TestClient, path: str,
                                                     detail: str) -> None:
    """Found by a review: 'Not Found' alone, for a layer's picture asked for without .png."""
    r = client.get(path)
    assert (r.status_code, r.json()) == (404, {"detail": detail})


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_get_of_a_routes_address_with_a_trailing_slash_is_redirected(
        client: TestClient, method: str) -> None:
    """A browser following a link to /docs/ gets the page, as from FastAPI's own redirect
    (a GET has no body to send twice); the query is kept."""
    for path, to in (("/docs/", "/docs"), ("/api/v1/models/?x=1", "/api/v1/models?x=1"),
                     ("/healthz//", "/healthz")):
        r = client.request(method, path, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (307, f"http://testserver{to}")
    assert client.get("/api/v1/nope/", follow_redirects=False).status_code == 404
    # nor where the address without the slash takes no GET (a review: on to a 405)
    head = client.head("/api/v1/featuremaps/batch/", follow_redirects=False)
    assert (head.status_code, "location" in head.headers) == (404, False)


def test_the_schema_names_the_headers_and_binary_bodies_a_client_reads(
        client: TestClient) -> None:
    """A client generated from /openapi.json alone (found by an API review): the .png route's
    prediction travels in X-Prediction, a 503 carries Retry-After, binary answers are typed
    as bytes, and a raw body may be application/octet-stream, as the server reads it."""
    paths = client.get("/openapi.json").json()["paths"]
    png_op = paths["/api/v1/featuremaps/{model}/{layer}.png"]["post"]
    assert png_op["responses"]["200"]["headers"]["X-Prediction"]["schema"] == {
        "type": "integer", "minimum": 0, "maximum": 9}
    assert png_op["responses"]["200"]["headers"]["X-Blank"]["schema"] == {"type": "boolean"}
    binary = {"type": "string", "format": "binary"}
    assert png_op["responses"]["200"]["content"]["image/png"]["schema"] == binary
    maps = paths["/api/v1/featuremaps"]["post"]
    assert maps["responses"]["200"]["content"]["application/x-featuremaps"]["schema"] == binary
    assert "Server-Timing" in maps["responses"]["200"]["headers"]
    batch_op = paths["/api/v1/featuremaps/batch"]["post"]
    assert batch_op["responses"]["200"]["content"]["application/x-npz"]["schema"] == binary
    assert "Content-Disposition" in batch_op["responses"]["200"]["headers"]
    for path in ("/api/v1/featuremaps", "/api/v1/featuremaps/{model}/{layer}.png",
                 "/api/v1/shifts", "/api/v1/featuremaps/batch"):
        assert "Retry-After" in paths[path]["post"]["responses"]["503"]["headers"], path
    for path in ("/api/v1/featuremaps", "/api/v1/featuremaps/{model}/{layer}.png",
                 "/api/v1/shifts"):
        body = paths[path]["post"]["requestBody"]["content"]
        assert body["application/octet-stream"]["schema"] == binary, path
    filters = paths["/api/v1/models/{model}/filters/{layer}"]["get"]["responses"]["400"]
    assert filters["description"] == "an unknown query parameter, or one given twice"
    assert client.get("/api/v1/models/max/filters/conv1?channel=1&channel=2").status_code == 400

    seven = (PROJECT_ROOT / "static" / "digits" / "0000_label7.png").read_bytes()
    raw = {"Content-Type": "application/octet-stream"}
    r = client.post("/api/v1/featuremaps/max/pool1.png", content=seven, headers=raw)
    assert (r.status_code, r.headers["x-prediction"]) == (200, "7")
    r = client.post("/api/v1/featuremaps", content=seven, headers=raw)
    assert r.status_code == 200 and r.json()["models"]["max"]["prediction"] == 7


def test_the_schema_documents_x_request_id_on_every_operation(client: TestClient) -> None:
    """Found by an API review: every answer carries X-Request-ID, and a client may send its
    own, but the document said so nowhere. Every operation now takes it as an optional
    header, and every response lists it, with the pattern a client's own must match."""
    paths = client.get("/openapi.json").json()["paths"]
    operations = [(p, m, op) for p, ops in paths.items() for m, op in ops.items()]
    assert len(operations) >= 9
    for path, method, op in operations:
        sent = [p for p in op["parameters"] if p["name"] == "X-Request-ID"]
        assert len(sent) == 1 and sent[0]["in"] == "header" and not sent[0]["required"], path
        for status, response in op["responses"].items():
            assert "X-Request-ID" in response["headers"], (path, method, status)
    # JSON Schema's pattern matches anywhere in the value, as re.search does: the pattern is
    # anchored (a Python client's review: unanchored, it took "bad id!" and 65 letters)
    pattern = re.compile(sent[0]["schema"]["pattern"])
    for given in ("class-42.a", "x" * 64):  # echoed: the pattern takes what the server does
        assert pattern.search(given)
        assert client.get("/healthz", headers={"x-request-id": given}).headers[
            "x-request-id"] == given
    for given in ("<script>", "bad id!", "x" * 65):
        assert not pattern.search(given)
        assert client.get("/healthz", headers={"x-request-id": given}).headers[
            "x-request-id"] != given


def test_the_schema_s_examples_are_valid_answers(client: TestClient) -> None:
    """The answer's example (layers left empty for length) passes the schema it documents,
    so a mock server built from it serves a valid answer (found by an API review)."""
    from app.api.schemas import FeatureMapsOut

    example = FeatureMapsOut.model_json_schema()["properties"]["models"]["examples"][0]
    FeatureMapsOut.model_validate({"input": {"shape": [28, 28], "encoding": "uint8",
                                             "blank": False, "data": ""}, "models": example})


def test_the_document_gives_this_servers_limits_as_it_was_started(settings: Settings) -> None:
    """Found by an API review: a server started with other limits documented the defaults
    alone, and a client that read its limits from the document was wrong there. The routes'
    statuses quote the defaults, said to be such; the description's table is the server's."""
    tuned = settings.model_copy(update={
        "max_upload_bytes": 100_000, "max_image_pixels": 10_000, "body_timeout_s": 2.5,
        "max_batch_images": 10, "max_batch_upload_bytes": 3 << 20, "max_sockets": 7})
    info = create_app(tuned).openapi()["info"]["description"]
    for row in ("| a request body (413) | 100,000 bytes | `FEATUREMAPS_MAX_UPLOAD_BYTES` |",
                "| an image's pixels (413) | 10,000 | `FEATUREMAPS_MAX_IMAGE_PIXELS` |",
                "| a body over 64 KiB still arriving (408) | 2.5 s | "
                "`FEATUREMAPS_BODY_TIMEOUT_S` |",
                "| inferences in flight, each worker (503) | 64 | `FEATUREMAPS_MAX_INFLIGHT` |",
                "| live sockets open, each worker (503) | 7 | `FEATUREMAPS_MAX_SOCKETS` |",
                "| a batch's body (413) | 3 MiB | `FEATUREMAPS_MAX_BATCH_UPLOAD_BYTES` |",
                "| a batch's images (413) | 10 | `FEATUREMAPS_MAX_BATCH_IMAGES` |"):
        assert f"\n{row}\n" in info
    spec = create_app(settings).openapi()
    assert "| a request body (413) | 2 MiB |" in spec["info"]["description"]
    # and those refused before any route, which no operation lists (the same review)
    from app.upgrades import HEAD_LIMIT, URL_LIMIT

    assert (f"a target (path and query)\nover {URL_LIMIT >> 10} KiB, 414; a request line and "
            f"headers over {HEAD_LIMIT >> 10} KiB, 431.") in spec["info"]["description"]
    assert "400 (no Sec-WebSocket-Key" in spec["paths"]["/api/v1/live"]["get"]["description"]
    limit = spec["paths"]["/api/v1/featuremaps"]["post"]["responses"]["413"]["description"]
    assert limit.startswith("body over the upload limit (2 MiB by default, ")


def test_the_headers_an_answer_varies_by_are_documented(client: TestClient) -> None:
    """Found by an API review: POST /api/v1/featuremaps documented Server-Timing alone, though
    its answer says what it varies by and whether it is gzipped, and /healthz and /metrics
    did not say they are not to be stored. Each documented header is one the answers send."""
    paths = client.get("/openapi.json").json()["paths"]
    documented = paths["/api/v1/featuremaps"]["post"]["responses"]["200"]["headers"]
    assert {"Server-Timing", "Vary", "Content-Encoding", "X-Request-ID"} <= set(documented)
    png = (PROJECT_ROOT / "static" / "digits" / "0000_label7.png").read_bytes()
    r = client.post("/api/v1/featuremaps", content=png, headers={
        "Content-Type": "image/png", "Accept": "application/x-featuremaps",
        "Accept-Encoding": "gzip"})
    assert (r.headers["vary"], r.headers["content-encoding"]) == ("Accept, Accept-Encoding",
                                                                  "gzip")
    for path in ("/healthz", "/metrics"):
        headers = paths[path]["get"]["responses"]["200"]["headers"]
        assert "`no-store`" in headers["Cache-Control"]["description"]
        assert client.get(path).headers["cache-control"] == "no-store"
