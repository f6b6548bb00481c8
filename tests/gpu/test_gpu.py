"""On a CUDA machine: auto picks the GPU, and GPU maps match CPU maps (eager and graph)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from app.api import wire
from app.config import Settings
from app.ml import device
from app.ml.encode import dequantise
from app.ml.engine import Engine

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(torch.cuda.device_count() == 0, reason="needs a CUDA device"),
]


@pytest.fixture(scope="module")
def digits(test_digit_pngs: dict[int, tuple[int, bytes]]) -> list[np.ndarray]:
    from app.ml import preprocess

    return [preprocess.from_image(png, 10**6) for _, png in test_digit_pngs.values()]


def test_auto_picks_cuda() -> None:
    assert device.resolve("auto").type == "cuda"


def test_gpu_maps_match_cpu_maps(settings: Settings, digits: list[np.ndarray]) -> None:
    cpu = Engine.load(settings.model_copy(update={"device": "cpu", "models": ["max", "avg"]}))
    gpu = Engine.load(settings.model_copy(update={"device": "cuda", "models": ["max", "avg"],
                                                  "cuda_graphs": False}))
    worst = 0.0
    for x in digits:
        a = cpu.featuremaps(x, ["max", "avg"], "float32")
        b = gpu.featuremaps(x, ["max", "avg"], "float32")
        for na, nb in zip(a.nets, b.nets, strict=True):
            assert na.prediction == nb.prediction
            np.testing.assert_allclose(na.probabilities, nb.probabilities, atol=1e-3)
            for la, lb in zip(na.layers, nb.layers, strict=True):
                np.testing.assert_allclose(la.data, lb.data, atol=1e-3, rtol=1e-3)
                worst = max(worst, float(np.abs(la.data - lb.data).max()))
    print(f"largest |GPU - CPU| over {len(digits)} digits, all layers: {worst:.2e}")  # noqa: T201


def test_cuda_graph_path_equals_the_eager_path(settings: Settings,
                                               digits: list[np.ndarray]) -> None:
    eager = Engine.load(settings.model_copy(update={"device": "cuda", "models": ["max", "avg"],
                                                    "cuda_graphs": False}))
    graph = Engine.load(settings.model_copy(update={"device": "cuda", "models": ["max", "avg"],
                                                    "cuda_graphs": True}))
    for x in digits:
        a = eager.featuremaps(x, ["max", "avg"], "uint8")
        b = graph.featuremaps(x, ["max", "avg"], "uint8")
        assert graph._graphs, "the uint8 batch-1 request should have used a CUDA graph"
        for na, nb in zip(a.nets, b.nets, strict=True):
            assert na.prediction == nb.prediction
            for la, lb in zip(na.layers, nb.layers, strict=True):
                va = dequantise(la.data.reshape(la.shape), la.low, la.high)
                vb = dequantise(lb.data.reshape(lb.shape), lb.low, lb.high)
                step = (la.high - la.low)[:, None, None] / 255
                assert (np.abs(va - vb) <= step + 1e-4).all()


def test_a_cuda_graph_outlives_the_caches_it_was_built_from(
        settings: Settings, digits: list[np.ndarray]) -> None:
    """Found by a review: the graph read group_sizes' tensor, held only by its cache, which
    64 newer layouts or batch sizes evict; its memory, freed and used again, gave wrong maps.
    The cache is emptied and the freed memory filled with other numbers: the graph's maps
    are still the eager path's."""
    import gc

    from app.ml.pack import group_sizes

    models = ["max", "avg"]
    eager = Engine.load(settings.model_copy(update={"device": "cuda", "models": models,
                                                    "cuda_graphs": False}))
    graph = Engine.load(settings.model_copy(update={"device": "cuda", "models": models,
                                                    "cuda_graphs": True}))
    graph.featuremaps(digits[0], models, "uint8")
    assert graph._graphs
    group_sizes.cache_clear()
    gc.collect()
    groups = sum(slot.layer.shape[0] for net in graph._layouts[tuple(models)].nets
                 for slot in net.layers)
    junk = [torch.full((groups,), 3, dtype=torch.int64, device="cuda") for _ in range(64)]
    for x in digits:
        a = eager.featuremaps(x, models, "uint8")
        b = graph.featuremaps(x, models, "uint8")
        for na, nb in zip(a.nets, b.nets, strict=True):
            assert na.prediction == nb.prediction
            for la, lb in zip(na.layers, nb.layers, strict=True):
                assert np.abs(la.data.astype(int) - lb.data.astype(int)).max() <= 1
    del junk


def test_pipelined_batch_extraction_matches_the_cpu(settings: Settings) -> None:
    """Several batches and a short last one, so both pinned buffers are reused."""
    from app.ml.batch import extract

    # 4 batches of 64 (per-layer quantisation) and one of 14 (the fused pass)
    images = np.random.default_rng(0).integers(0, 256, (270, 28, 28), dtype=np.uint8)
    cpu = Engine.load(settings.model_copy(update={"device": "cpu", "models": ["max", "avg"]}))
    gpu = Engine.load(settings.model_copy(update={"device": "cuda", "models": ["max", "avg"]}))
    a = extract(cpu, images, ["max", "avg"], batch_size=64)
    b = extract(gpu, images, ["max", "avg"], batch_size=64)
    assert a.keys() == b.keys()
    for key in a:
        if a[key].dtype == np.uint8:  # a value on a rounding boundary may land one step apart
            diff = np.abs(a[key].astype(np.int16) - b[key])
            assert diff.max() <= 1, key
            assert (diff > 0).mean() < 0.01, key
        elif key.endswith("/prediction"):
            assert (a[key] == b[key]).mean() > 0.99, key
        else:
            np.testing.assert_allclose(a[key], b[key], atol=1e-3, rtol=1e-3, err_msg=key)


@pytest.mark.parametrize("encoding", ["float16", "float32"])
def test_pipelined_float_batches_match_the_cpu(settings: Settings, encoding: str) -> None:
    """The batch route's encoding=float16|float32 on a GPU: the pinned buffers take the
    maps' type, and the floats are the CPU's within float tolerance."""
    from app.ml.batch import extract

    images = np.random.default_rng(1).integers(0, 256, (150, 28, 28), dtype=np.uint8)
    cpu = Engine.load(settings.model_copy(update={"device": "cpu", "models": ["max"]}))
    gpu = Engine.load(settings.model_copy(update={"device": "cuda", "models": ["max"]}))
    a = extract(cpu, images, ["max"], ["pool1", "conv3"], batch_size=64,
                encoding=encoding)  # type: ignore[arg-type]
    b = extract(gpu, images, ["max"], ["pool1", "conv3"], batch_size=64,
                encoding=encoding)  # type: ignore[arg-type]
    assert a.keys() == b.keys()
    assert b["max/pool1"].dtype == np.dtype(encoding)
    tolerance = 2e-3 if encoding == "float16" else 1e-3
    for key in a:
        if not key.endswith("/prediction"):
            np.testing.assert_allclose(a[key].astype(np.float32), b[key].astype(np.float32),
                                       atol=tolerance, rtol=tolerance, err_msg=key)


def test_the_server_reports_and_uses_the_gpu(settings: Settings,
                                             test_digit_pngs: dict[int, tuple[int, bytes]],
                                             digits: list[np.ndarray]) -> None:
    from starlette.testclient import TestClient

    from app.main import create_app

    cpu = Engine.load(settings.model_copy(update={"device": "cpu", "models": ["max", "avg"]}))
    with TestClient(create_app(settings.model_copy(update={"device": "auto"}))) as client:
        health = client.get("/healthz").json()
        assert health["device"].startswith("cuda (")
        for (_, png), x in zip(test_digit_pngs.values(), digits, strict=True):
            r = client.post("/api/v1/featuremaps?models=max,avg", content=png,
                            headers={"Content-Type": "image/png"})
            assert r.status_code == 200
            got = r.json()["models"]
            want = cpu.featuremaps(x, ["max", "avg"], "float32").nets
            assert (got["max"]["prediction"], got["avg"]["prediction"]) == \
                (want[0].prediction, want[1].prediction)
        # the page's live socket goes through the same engine (and its CUDA graph)
        with client.websocket_connect("/api/v1/live?models=max,avg") as ws:
            for (_, png), x in zip(test_digit_pngs.values(), digits, strict=True):
                ws.send_bytes(png)
                live = wire.parse_binary(gzip.decompress(ws.receive_bytes()))["models"]
                want = cpu.featuremaps(x, ["max", "avg"], "float32").nets
                assert (live["max"]["prediction"], live["avg"]["prediction"]) == \
                    (want[0].prediction, want[1].prediction)


@pytest.mark.parametrize("encoding", ["float16", "float32"])
def test_the_batch_route_answers_float_maps_from_the_gpu(settings: Settings,
                                                          encoding: str) -> None:
    """What a researcher sends: an .npy of images to the batch route of a server on the GPU,
    with encoding=float16|float32. The .npz holds the maps in that type, as the CPU's
    extraction gives them within float tolerance, and the same predictions."""
    import io

    from starlette.testclient import TestClient

    from app.main import create_app
    from app.ml.batch import extract

    images = np.random.default_rng(2).integers(0, 256, (300, 28, 28), dtype=np.uint8)
    buf = io.BytesIO()
    np.save(buf, images)
    cpu = Engine.load(settings.model_copy(update={"device": "cpu", "models": ["max", "avg"]}))
    want = extract(cpu, images, ["max", "avg"], ["pool1", "conv3"],
                   encoding=encoding)  # type: ignore[arg-type]
    with TestClient(create_app(settings.model_copy(update={"device": "auto"}))) as client:
        assert client.get("/healthz").json()["device"].startswith("cuda (")
        r = client.post(f"/api/v1/featuremaps/batch?models=max,avg&layers=pool1,conv3"
                        f"&encoding={encoding}", content=buf.getvalue())
    assert r.status_code == 200, r.text
    got = np.load(io.BytesIO(r.content))
    assert sorted(got.files) == sorted(want)
    assert got["max/pool1"].dtype == np.dtype(encoding)
    tolerance = 2e-3 if encoding == "float16" else 1e-3
    for key in want:
        if key.endswith("/prediction"):
            assert (got[key] == want[key]).mean() > 0.99, key
        else:
            np.testing.assert_allclose(got[key].astype(np.float32), want[key].astype(np.float32),
                                       atol=tolerance, rtol=tolerance, err_msg=key)
