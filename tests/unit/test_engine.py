"""The engine's maps equal an independent computation from the same safetensors weights."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from app.config import Settings
from app.ml import registry
from app.ml.data import Mnist
from app.ml.encode import Encoding, dequantise
from app.ml.engine import Engine, FeatureMaps
from tests.conftest import MODELS_DIR


@pytest.fixture(scope="module")
def engine(settings: Settings) -> Engine:
    return Engine.load(settings.model_copy(update={"models": ["max", "avg"]}))


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    rng = np.random.default_rng(7)
    x = np.zeros((28, 28), np.float32)
    x[6:22, 12:16] = 1.0  # a thick "1"
    x[6:9, 9:16] = 0.8
    return np.clip(x + rng.uniform(0, 0.05, x.shape).astype(np.float32), 0, 1)


def reference(variant: str, x28: np.ndarray) -> dict[str, np.ndarray]:
    """Every map with torch.nn.functional alone, straight from the weights file."""
    w = load_file(str(MODELS_DIR / f"{variant}.safetensors"))
    pool = F.max_pool2d if variant == "max" else F.avg_pool2d
    x = torch.from_numpy(x28).reshape(1, 1, 28, 28)
    maps = {}
    maps["conv1"] = F.relu(F.conv2d(x, w["conv1.weight"], w["conv1.bias"]))
    maps["pool1"] = pool(maps["conv1"], 2)
    maps["conv2"] = F.relu(F.conv2d(maps["pool1"], w["conv2.weight"], w["conv2.bias"]))
    maps["pool2"] = pool(maps["conv2"], 2)
    maps["conv3"] = F.relu(F.conv2d(maps["pool2"], w["conv3.weight"], w["conv3.bias"]))
    hidden = F.relu(F.linear(maps["conv3"].flatten(1), w["dense1.weight"], w["dense1.bias"]))
    maps["probabilities"] = torch.softmax(F.linear(hidden, w["dense2.weight"], w["dense2.bias"]), 1)
    return {k: v[0].numpy() for k, v in maps.items()}


EXPECTED = [("conv1", (32, 26, 26)), ("pool1", (32, 13, 13)), ("conv2", (64, 11, 11)),
            ("pool2", (64, 5, 5)), ("conv3", (64, 3, 3))]


@pytest.mark.parametrize("variant", ["max", "avg"])
def test_float32_maps_equal_the_reference_exactly(engine: Engine, digit: np.ndarray,
                                                  variant: str) -> None:
    result = engine.featuremaps(digit, [variant], "float32")
    ref = reference(variant, digit)
    net = result.nets[0]
    assert [(layer.name, layer.shape) for layer in net.layers] == EXPECTED
    for layer in net.layers:
        np.testing.assert_array_equal(layer.data.reshape(layer.shape), ref[layer.name])
        np.testing.assert_array_equal(layer.low, ref[layer.name].min(axis=(1, 2)))
        np.testing.assert_array_equal(layer.high, ref[layer.name].max(axis=(1, 2)))
    np.testing.assert_allclose(net.probabilities, ref["probabilities"], rtol=1e-6, atol=1e-7)
    assert net.prediction == int(ref["probabilities"].argmax())


def test_uint8_maps_are_within_one_quantisation_step(engine: Engine, digit: np.ndarray) -> None:
    result = engine.featuremaps(digit, ["max", "avg"], "uint8")
    assert [n.variant for n in result.nets] == ["max", "avg"]
    for net in result.nets:
        ref = reference(net.variant, digit)
        for layer in net.layers:
            assert layer.data.dtype == np.uint8 and layer.data.size == np.prod(layer.shape)
            values = dequantise(layer.data.reshape(layer.shape), layer.low, layer.high)
            step = ((layer.high - layer.low) / 255.0)[:, None, None]
            assert (np.abs(values - ref[layer.name]) <= step * 0.5 + 1e-5).all(), layer.name


def test_float16_maps_round_the_reference(engine: Engine, digit: np.ndarray) -> None:
    result = engine.featuremaps(digit, ["avg"], "float16")
    ref = reference("avg", digit)
    for layer in result.nets[0].layers:
        assert layer.data.dtype == np.float16
        np.testing.assert_array_equal(layer.data.reshape(layer.shape),
                                      ref[layer.name].astype(np.float16))


def maps(result: FeatureMaps, variant: str) -> dict[str, np.ndarray]:
    net = next(n for n in result.nets if n.variant == variant)
    return {layer.name: layer.data.reshape(layer.shape) for layer in net.layers}


def test_max_pool1_is_the_2x2_max_of_its_conv1(engine: Engine, digit: np.ndarray) -> None:
    m = maps(engine.featuremaps(digit, ["max"], "float32"), "max")
    conv1 = m["conv1"].reshape(32, 13, 2, 13, 2)
    np.testing.assert_array_equal(m["pool1"], conv1.max(axis=(2, 4)))


def test_avg_pool1_is_the_2x2_mean_of_its_own_conv1(engine: Engine, digit: np.ndarray) -> None:
    m = maps(engine.featuremaps(digit, ["avg"], "float32"), "avg")
    conv1 = m["conv1"].reshape(32, 13, 2, 13, 2)
    np.testing.assert_allclose(m["pool1"], conv1.mean(axis=(2, 4)), rtol=1e-6, atol=1e-7)
    # pool2 reads an 11x11 map: the last row and column are dropped, as in Keras
    conv2 = m["conv2"][:, :10, :10].reshape(64, 5, 2, 5, 2)
    np.testing.assert_allclose(m["pool2"], conv2.mean(axis=(2, 4)), rtol=1e-6, atol=1e-7)


def test_an_empty_drawing_is_a_valid_request(engine: Engine) -> None:
    result = engine.featuremaps(np.zeros((28, 28), np.float32), ["max", "avg"])
    for net in result.nets:
        assert net.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
        assert 0 <= net.prediction <= 9


def test_shipped_weights_match_their_cards() -> None:
    for variant in registry.shipped_variants(MODELS_DIR):
        card = registry.read_card(MODELS_DIR, variant)
        # the file's own hash, computed here (a test audit: the loaded card's hash against
        # the same card read again held whatever the file)
        weights = registry.weights_path(MODELS_DIR, variant).read_bytes()
        assert hashlib.sha256(weights).hexdigest() == card["weights_sha256"]
        assert registry.load(MODELS_DIR, variant).card["weights_sha256"] == card["weights_sha256"]
        assert card["params"] == sum(p.numel() for p in registry.load(MODELS_DIR, variant)
                                     .net.parameters())
    assert {"max", "avg"} <= set(registry.shipped_variants(MODELS_DIR))


@pytest.mark.parametrize("n", [3, 17])
def test_host_and_device_packing_agree(engine: Engine, digit: np.ndarray, n: int) -> None:
    """The NumPy path (CPU) and the torch path (GPU) give the same bytes, here both run on
    the CPU: for 3 images the fused pass (batch 1, CUDA graphs), for 17 the layer-by-layer
    pass (batches)."""
    from app.ml.pack import PER_LAYER_FROM, Layout, pack_on_device, pack_on_host

    assert (n >= PER_LAYER_FROM) == (n == 17)
    nets = engine.nets(["max", "avg"])
    layout = Layout.plan(nets, ["conv1", "pool2", "conv3"])
    images = [np.roll(digit, k - n // 2, axis=k % 2) for k in range(n - 2)]
    images += [digit[::-1].copy(), np.zeros_like(digit)]
    x = torch.from_numpy(np.stack(images))[:, None]
    with torch.inference_mode():
        host_data, host_floats = pack_on_host(nets, x, layout)
        dev_data, dev_floats = pack_on_device(nets, x, layout)
    assert host_data.shape == (n * layout.data_size,)
    np.testing.assert_array_equal(host_floats, dev_floats.numpy())
    diff = np.abs(host_data.astype(int) - dev_data.numpy().astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999


@pytest.mark.parametrize("encoding", ["uint8", "float16", "float32"])
@pytest.mark.parametrize("layers", [None, ["pool1", "conv3"]])
def test_host_fused_and_layer_by_layer_packing_give_the_same_bytes(
        engine: Engine, digit: np.ndarray, encoding: Encoding, layers: list[str] | None) -> None:
    """A live update takes the one-pass path, a batch the layer-by-layer one: the same maps
    must come out bit for bit, whichever way they were quantised."""
    from app.ml.pack import Layout, pack_on_host

    nets = engine.nets(["max", "avg"])
    layout = Layout.plan(nets, layers)
    x = torch.from_numpy(np.stack([digit, digit.T.copy(), np.zeros_like(digit)]))[:, None]
    with torch.inference_mode():
        fused = pack_on_host(nets, x, layout, encoding, per_layer=False)
        by_layer = pack_on_host(nets, x, layout, encoding, per_layer=True)
    assert fused[0].dtype == by_layer[0].dtype and fused[0].shape == (3 * layout.data_size,)
    np.testing.assert_array_equal(fused[0], by_layer[0])
    np.testing.assert_array_equal(fused[1], by_layer[1])
    if encoding == "uint8":  # every channel that is not constant spans the levels 0..255
        data = fused[0]
        for net in layout.nets:
            for ls in net.layers:
                c = ls.layer.shape[0]
                rows = data[ls.data(3)].reshape(3 * c, -1)
                spans = fused[1][ls.highs(3)] - fused[1][ls.lows(3)]
                assert (rows.min(axis=1)[spans > 0] == 0).all()
                assert (rows.max(axis=1)[spans > 0] == 255).all()


def test_host_packing_of_no_images_is_empty(engine: Engine) -> None:
    from app.ml.pack import Layout, pack_on_host

    nets = engine.nets(["max", "avg"])
    with torch.inference_mode():
        data, floats = pack_on_host(nets, torch.zeros(0, 1, 28, 28), Layout.plan(nets))
    assert data.shape == (0,) and floats.shape == (0,)


def test_a_layout_keeps_its_hash_but_not_across_a_pickle() -> None:
    """A layout is a cache key twice per live update, so its hash is kept once computed; equal
    layouts still hash alike, and a pickle (another process: another string hash) leaves the
    kept value behind."""
    import pickle

    from app.ml.nets import build
    from app.ml.pack import Layout

    nets = [build("max"), build("avg")]
    layout, again = Layout.plan(nets), Layout.plan(nets)
    assert layout == again and hash(layout) == hash(again) == hash(layout)
    assert layout.__dict__["_hash"] == hash((layout.nets, layout.data_size, layout.float_size))
    assert layout != Layout.plan(nets, ["pool2"])
    copy = pickle.loads(pickle.dumps(layout))
    assert "_hash" not in copy.__dict__ and copy == layout and hash(copy) == hash(layout)


def test_device_quantisation_keeps_a_narrow_channel_far_from_zero() -> None:
    """(m - low) * scale, not m * scale - low * scale: a channel of values 1000..1000.01
    spreads over the levels as the NumPy path spreads it."""
    from app.ml.pack import _quantise_into

    m = (1000 + np.linspace(0, 0.01, 256, dtype=np.float32)).reshape(1, 1, 16, 16)
    t = torch.from_numpy(m)
    lo, hi = torch.aminmax(t.flatten(2), dim=2)
    out = torch.empty(256, dtype=torch.uint8)
    _quantise_into(out, t, lo, hi)
    span = np.float32(m.max() - m.min())
    want = np.minimum((m.ravel() - m.min()) * (np.float32(255) / span) + 0.5, 255).astype(np.uint8)
    got = out.numpy()
    assert got[0] == 0 and got[-1] == 255
    assert np.abs(got.astype(int) - want).max() <= 1  # m * scale - low * scale: 2 apart
    assert len(np.unique(got)) == len(np.unique(m))  # every distinct float32 keeps a level


@pytest.mark.slow
def test_batch_size_does_not_change_the_maps(engine: Engine, mnist: Mnist) -> None:
    """The CPU default of 256 images per batch and one image at a time give the same maps, up
    to float rounding: the convolutions sum in a different order with the batch, so a value
    may land one uint8 step away and a low/high move in the seventh digit."""
    from app.ml.batch import default_batch_size, extract

    images = mnist.images("test")[:300]  # crosses a batch boundary at the default size
    assert default_batch_size(engine) == 256
    layers = ["conv1", "pool2", "conv3"]
    whole = extract(engine, images, ["max", "avg"], layers)
    for i in (0, 255, 256, 299):
        one = extract(engine, images[i:i + 1], ["max", "avg"], layers, 1)
        for name, arr in one.items():
            if arr.dtype == np.uint8:
                diff = np.abs(arr[0].astype(int) - whole[name][i].astype(int))
                assert diff.max() <= 1 and (diff > 0).mean() < 0.001, (name, i)
            elif name.endswith("prediction"):
                assert arr[0] == whole[name][i]
            else:
                np.testing.assert_allclose(arr[0], whole[name][i], rtol=1e-5, atol=1e-5)


def test_the_copy_into_the_output_may_be_split_over_threads(engine: Engine) -> None:
    """Each thread copies its own run of a batch's images: 7 images in batches of 5 over 3
    threads (runs of 2, 2 and 1, then 1 and 1) give the very arrays one thread gives."""
    from app.ml.batch import extract

    images = np.random.default_rng(3).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    one = extract(engine, images, ["max", "avg"], None, 5, host_threads=1)
    three = extract(engine, images, ["max", "avg"], None, 5, host_threads=3)
    assert one.keys() == three.keys() and len(one) == 2 * (5 * 3 + 2)
    for name, arr in one.items():
        np.testing.assert_array_equal(three[name], arr, err_msg=name)
    # every image was written, in every layer: no run left the fresh memory as it was
    for name in (n for n in three if n.endswith("/high")):
        assert (three[name] > three[name.replace("/high", "/low")]).any(axis=1).all(), name


def _quantise_groups(m: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    from app.ml.pack import _quantise_groups as quantise

    # it works in the array it is given: a copy, so that m stays as it was
    return quantise(m.ravel().copy(), lo, hi, np.full(len(m), m.shape[1])).reshape(m.shape)


def _quantise_rows(m: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    from app.ml.pack import _quantise_rows as quantise

    out = np.empty(m.shape, np.uint8)
    quantise(out, m, lo, hi)
    return out


def _quantise_on_device(m: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    from app.ml.pack import _quantise_into

    out = torch.empty(m.size, dtype=torch.uint8)
    _quantise_into(out, torch.from_numpy(m)[None, :, :, None], torch.from_numpy(lo)[None],
                   torch.from_numpy(hi)[None])
    return out.numpy().reshape(m.shape)


@pytest.mark.parametrize("quantise", [_quantise_groups, _quantise_rows, _quantise_on_device],
                         ids=["host fused (live)", "host by layer (batch)", "torch"])
def test_quantisation_never_wraps_past_255(quantise: Any) -> None:
    """Without a clamp, a scaled value of 256 would wrap to 0 in the uint8 cast: every
    channel's maximum must come out as 255 and every level lie within one step of the exact
    value, whatever the channel's offset and span (down to spans whose 255 / span overflows
    a float32), and the host's two passes and torch's must agree byte for byte."""
    rng = np.random.default_rng(3)
    rows = []
    for offset in (0.0, 1e-30, 1e-3, 1.0, 1000.0, 3e5, 1e30):
        for span in (1e-38, 1e-36, 1e-7, 1e-3, 1.0, 7.0, 1e4, 1e30):
            row = offset + span * rng.random(64)
            row[:2] = offset, offset + span  # both ends present
            rows.append(row.astype(np.float32))
    rows.append(np.full(64, 5.0, np.float32))  # a constant channel
    m = np.stack(rows)
    lo, hi = m.min(axis=1), m.max(axis=1)
    out = quantise(m, lo, hi)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, _quantise_rows(m, lo, hi))
    spans = (hi.astype(np.float64) - lo)
    exact = np.divide((m - lo[:, None]) * 255.0, spans[:, None], out=np.zeros(m.shape),
                      where=spans[:, None] > 0)
    normal = spans >= 1e-36  # 255 / span fits a float32: the exact rounding applies
    assert (out[spans == 0] == 0).all()
    assert np.abs(out[normal] - exact[normal]).max() <= 0.5 + 1e-3
    assert (out.max(axis=1)[normal] == 255).all() and (out.min(axis=1)[normal] == 0).all()
    # a span too small for its scale keeps the order of the values, on fewer levels
    tiny = (spans > 0) & ~normal
    assert tiny.any()
    order = np.argsort(m[tiny], axis=1, kind="stable")
    assert (np.diff(np.take_along_axis(out[tiny], order, axis=1).astype(int), axis=1) >= 0).all()


def test_cuda_graphs_are_captured_for_a_bounded_number_of_network_lists(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each order of names asked for (max,avg and avg,max are two) would capture a graph
    with device memory of its own, 325 lists for five networks: past MAX_GRAPHS they run
    eager, and those captured stay in use. The capture itself is stood in for here (CUDA
    alone can make one; tests/gpu checks the graphs' maps)."""
    from itertools import permutations

    from app.ml import engine as engine_module
    from app.ml.pack import Layout

    captured: list[tuple[Any, ...]] = []  # the networks of each capture

    class Capture:
        def __init__(self, nets: Any, layout: Layout, dev: torch.device) -> None:
            captured.append(tuple(nets))

    monkeypatch.setattr(engine_module, "CudaGraphRunner", Capture)
    eng = Engine.load(settings.model_copy(update={"models": []}))  # every shipped network
    eng.device = torch.device("cuda", 0)  # a name only: nothing runs on it
    lists = [p for k in (1, 2, 3) for p in permutations(eng.variants, k)]
    assert len(lists) > engine_module.MAX_GRAPHS == 16
    runners = [eng._graph_runner(key, eng.nets(key), Layout.plan(eng.nets(key)))
               for key in lists]
    assert captured == [tuple(eng.nets(key)) for key in lists[:16]]
    assert all(isinstance(r, Capture) for r in runners[:16]) and set(runners[16:]) == {None}
    first = eng._graph_runner(lists[0], eng.nets(lists[0]), Layout.plan(eng.nets(lists[0])))
    assert first is runners[0] and len(captured) == 16
