"""The one object routes talk to: loaded networks on a device, and what they can be asked.

setup (Engine.load) -> decode (preprocess.*) -> predict (featuremaps / shifts / batch) ->
encode (app/api/wire.py). Routes never touch tensors; they hand the engine 28x28 arrays.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from app.config import Settings
from app.ml import device as devices
from app.ml import receptive, registry
from app.ml import shifts as shift_lab
from app.ml.capture import capture
from app.ml.encode import ENCODINGS, Encoding
from app.ml.errors import UnknownName, WeightsError
from app.ml.names import VARIANTS, brief, not_loaded
from app.ml.nets import (
    LayerSpec,
    Net,
    check_variant_layers,
    param_counts,
    variant_spec,
)
from app.ml.pack import Layout, group_sizes, pack, pack_on_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerMaps:
    name: str
    kind: str
    shape: tuple[int, int, int]
    encoding: Encoding
    low: np.ndarray  # (C,) float32
    high: np.ndarray  # (C,) float32
    data: np.ndarray  # (C*H*W,) in the encoding's dtype, row-major


@dataclass(frozen=True)
class NetMaps:
    variant: str
    prediction: int
    probabilities: np.ndarray  # (10,) float32
    layers: tuple[LayerMaps, ...]


@dataclass(frozen=True)
class FeatureMaps:
    """Everything one request gets back, still as arrays; app/api/wire.py turns it into bytes."""

    input: np.ndarray  # (28, 28) float32, what the networks saw
    encoding: Encoding
    layout: Layout
    data: np.ndarray  # all maps packed, (layout.data_size,)
    floats: np.ndarray  # probabilities, lows and highs packed, (layout.float_size,)
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds

    @functools.cached_property
    def nets(self) -> tuple[NetMaps, ...]:
        """Per network and layer views into the packed buffers, made when first asked for:
        the binary format sends the buffers whole and never needs them."""
        return unpack(self.layout, self.data, self.floats, self.encoding)

    def predictions(self) -> dict[str, int]:
        """Each network's predicted class, straight from the packed probabilities."""
        return {slot.variant: int(np.argmax(self.floats[slot.probabilities(1)]))
                for slot in self.layout.nets}


def unpack(layout: Layout, data: np.ndarray, floats: np.ndarray, encoding: Encoding,
           b: int = 1, index: int = 0) -> tuple[NetMaps, ...]:
    """Views into packed buffers of b images, for image `index` (copies nothing)."""
    nets: list[NetMaps] = []
    for slot in layout.nets:
        probs = floats[slot.probabilities(b)].reshape(b, 10)[index]
        layers: list[LayerMaps] = []
        for ls in slot.layers:
            c = ls.layer.shape[0]
            layers.append(LayerMaps(
                ls.layer.name, ls.layer.kind, ls.layer.shape, encoding,
                floats[ls.lows(b)].reshape(b, c)[index],
                floats[ls.highs(b)].reshape(b, c)[index],
                data[ls.data(b)].reshape(b, ls.size)[index],
            ))
        nets.append(NetMaps(slot.variant, int(np.argmax(probs)), probs, tuple(layers)))
    return tuple(nets)


def _mean(values: dict[str, float | None] | None) -> float | None:
    """The mean of the values that are not None; None when there are none."""
    present = [v for v in (values or {}).values() if v is not None]
    return float(np.mean(present)) if present else None


@dataclass(frozen=True)
class LayerShift:
    name: str
    jump: int  # input pixels per map unit
    change: dict[str, float | None]  # relative L2 change in place per one-pixel nudge (left, ...)
    # the same once the maps are moved along with the input; None where a pixel is not a
    # whole number of units (shifts.change_shifted_back)
    change_shifted_back: dict[str, float | None] | None

    @property
    def mean(self) -> float | None:
        return _mean(self.change)

    @property
    def mean_shifted_back(self) -> float | None:
        return _mean(self.change_shifted_back)


@dataclass(frozen=True)
class NetShifts:
    variant: str
    prediction: int  # at zero shift
    probability: float  # of that class at zero shift
    classes: np.ndarray  # (9, 9) predicted class per shift, rows dy, columns dx
    top: np.ndarray  # (9, 9) probability of each shift's own predicted class
    reference: np.ndarray  # (9, 9) probability of the zero-shift class
    layers: tuple[LayerShift, ...]

    @property
    def consistency(self) -> float:
        """Share of shifts in the grid that keep the zero-shift class."""
        return float((self.classes == self.prediction).mean())


@dataclass(frozen=True)
class ShiftResult:
    input: np.ndarray
    shifts: tuple[int, ...]
    nets: tuple[NetShifts, ...]


# CUDA graphs captured at most, one per list of networks asked for in its order (each holds
# its own device memory and pinned buffers; 5 networks make 325 lists): the page's pair and
# the others' first; any further list runs eager (a review)
MAX_GRAPHS = 16


class CudaGraphRunner:
    """Batch-1, uint8, fixed set of networks: forward, capture, quantise and pack replayed as
    one CUDA graph; the two packed buffers are then copied once each into pinned host memory."""

    def __init__(self, nets: Sequence[Net], layout: Layout, dev: torch.device) -> None:
        self.nets = tuple(nets)
        self.layout = layout
        self.lock = threading.Lock()
        self.host_x = torch.zeros(1, 1, 28, 28).pin_memory()
        self.static_x = torch.zeros(1, 1, 28, 28, device=dev)
        self.host_data = torch.empty(layout.data_size, dtype=torch.uint8).pin_memory()
        self.host_floats = torch.empty(layout.float_size, dtype=torch.float32).pin_memory()
        # Every tensor the graph reads is held here for the graph's life: built before the
        # capture (no host->device copy inside it), and not left to group_sizes' cache, whose
        # copy is freed once 64 newer layouts or batch sizes evict it (a review).
        self.repeats = group_sizes(layout, 1, dev)
        # replays and their copies go on a stream of their own, so that a live update does not
        # queue behind a batch's kernels on the default stream (a review; unmeasured)
        self.stream = torch.cuda.Stream(dev)  # type: ignore[no-untyped-call]
        self.stream.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(self.stream), torch.inference_mode():
            for _ in range(3):  # warm up kernels and the allocator outside the graph
                self._pack()
        torch.cuda.current_stream(dev).wait_stream(self.stream)
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: work other threads put on the GPU meanwhile (a batch, say) must not
        # break the capture
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"), \
                torch.inference_mode():
            self.out_data, self.out_floats = self._pack()

    def _pack(self) -> tuple[torch.Tensor, torch.Tensor]:
        return pack_on_device(self.nets, self.static_x, self.layout, repeats=self.repeats)

    def run(self, x28: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self.lock, torch.cuda.stream(self.stream):
            self.host_x.numpy()[0, 0] = x28
            self.static_x.copy_(self.host_x, non_blocking=True)
            self.graph.replay()
            self.host_data.copy_(self.out_data, non_blocking=True)
            self.host_floats.copy_(self.out_floats, non_blocking=True)
            self.stream.synchronize()
            return self.host_data.numpy().copy(), self.host_floats.numpy().copy()


class Engine:
    """Loaded networks on one device. Thread-safe: inference holds no shared mutable state
    except the CUDA graphs, which serialise on their own lock."""

    def __init__(self, loaded: dict[str, registry.Loaded], dev: torch.device,
                 settings: Settings) -> None:
        self.loaded = loaded
        self.device = dev
        self.settings = settings
        self._graphs: dict[tuple[str, ...], CudaGraphRunner] = {}
        self._layouts: dict[tuple[str, ...], Layout] = {}  # every map of these networks
        self._graph_lock = threading.Lock()

    # --- setup ---------------------------------------------------------------------
    @classmethod
    def load(cls, settings: Settings) -> Engine:
        """Resolve the device and load every configured variant, each verified by its card."""
        dev = devices.resolve(settings.device)
        devices.prepare(dev)
        unknown = [v for v in settings.models if v not in VARIANTS]
        if unknown:
            raise WeightsError(f"unknown variant(s) {', '.join(unknown)}; "
                               f"expected some of {', '.join(VARIANTS)}")
        variants = settings.models or registry.shipped_variants(settings.models_dir)
        if not variants:
            raise registry.no_cards(settings.models_dir)
        loaded = {v: registry.load(settings.models_dir, v, dev) for v in variants}
        engine = cls(loaded, dev, settings)
        log.info("engine ready on %s with %s", devices.describe(dev), ", ".join(loaded))
        return engine

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(self.loaded)

    @property
    def device_name(self) -> str:
        return devices.describe(self.device)

    def check_models(self, models: Sequence[str]) -> None:
        """UnknownName for a model this server does not have."""
        missing = [m for m in models if m not in self.loaded]
        if missing:
            raise UnknownName(not_loaded(missing[0], tuple(self.loaded)))

    def nets(self, models: Sequence[str]) -> list[Net]:
        self.check_models(models)
        return [self.loaded[m].net for m in models]

    def layout(self, models: Sequence[str], layers: Sequence[str] | None = None) -> Layout:
        """Where each map of these networks' chosen layers (None: all) lies in a packed
        answer, for sizing one before any image is run (the batch route)."""
        return Layout.plan(self.nets(models), layers)

    def layer_spec(self, model: str, layer: str) -> LayerSpec:
        """The spec of a layer of a loaded model (both checked already)."""
        return next(s for s in self.loaded[model].net.spec.layers if s.name == layer)

    def layer_shape(self, model: str, layer: str) -> tuple[int, int, int]:
        return self.layer_spec(model, layer).shape

    def filters(self, model: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """A conv layer's learned filters (out, in, 3, 3) and biases (out,), float32 on the
        host. UnknownName for a model or layer this server does not have, or a pooling layer,
        which learns none."""
        (net,) = self.nets([model])
        self.check_layers([model], [layer])
        if self.layer_spec(model, layer).kind != "conv":
            raise UnknownName(f"{model} {layer} is a pooling layer: it learns no filters")
        conv = getattr(net, layer)
        weight, bias = conv.weight.detach().cpu().numpy(), conv.bias.detach().cpu().numpy()
        return weight.copy(), bias.copy()  # copies: the caller must not write into the net

    def check_layers(self, models: Sequence[str], layers: Sequence[str]) -> None:
        """UnknownName for a layer one of the loaded models does not have."""
        check_variant_layers([self.loaded[model].net.variant for model in models], layers)

    # --- predict -------------------------------------------------------------------
    def tensor(self, images: np.ndarray) -> torch.Tensor:
        """(N, 28, 28) or (28, 28) float32 0..1 -> (N, 1, 28, 28) on the device."""
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        return x.reshape(-1, 1, 28, 28).to(self.device, non_blocking=True)

    def featuremaps(self, x28: np.ndarray, models: Sequence[str],
                    encoding: Encoding = "uint8") -> FeatureMaps:
        """Every map of every chosen network for one 28x28 input, packed."""
        if encoding not in ENCODINGS:
            raise UnknownName(f"unknown encoding {brief(encoding)}; "
                              f"use one of {', '.join(ENCODINGS)}")
        nets = self.nets(models)
        layout = self._layouts.get(tuple(models))
        if layout is None:
            layout = self._layouts.setdefault(tuple(models), Layout.plan(nets))
        t0 = time.perf_counter()
        runner = self._graph_runner(tuple(models), nets, layout) if encoding == "uint8" else None
        if runner is not None:
            data, floats = runner.run(x28)
        else:
            with torch.inference_mode():
                data, floats = pack(nets, self.tensor(x28), layout, encoding)
        infer_ms = (time.perf_counter() - t0) * 1000
        return FeatureMaps(x28, encoding, layout, data, floats, {"infer": infer_ms})

    def _graph_runner(self, key: tuple[str, ...], nets: list[Net],
                      layout: Layout) -> CudaGraphRunner | None:
        if self.device.type != "cuda" or not self.settings.cuda_graphs:
            return None
        runner = self._graphs.get(key)
        if runner is None:
            with self._graph_lock:
                runner = self._graphs.get(key)
                if runner is None:
                    if len(self._graphs) >= MAX_GRAPHS:
                        return None  # eager: each order of names would hold a graph
                    runner = CudaGraphRunner(nets, layout, self.device)
                    self._graphs[key] = runner
                    log.info("captured a CUDA graph for %s", ",".join(key))
        return runner

    def warm_up(self, models: Sequence[str]) -> None:
        """One throw-away request, so the first user does not pay for lazy initialisation."""
        self.featuremaps(np.zeros((28, 28), np.float32), models)

    def shifts(self, x28: np.ndarray, models: Sequence[str]) -> ShiftResult:
        """Each network on every shift of the input in -4..4 px (x and y), and per layer how
        much the maps change when the input moves one pixel (see app/ml/shifts.py)."""
        nets = self.nets(models)
        offsets = shift_lab.GRID_SHIFTS
        base = torch.from_numpy(np.ascontiguousarray(x28, dtype=np.float32)).reshape(1, 1, 28, 28)
        batch = torch.cat([shift_lab.shift(base, dx, dy) for dy in offsets for dx in offsets])
        centre = len(offsets) // 2
        index = {(dx, dy): (dy + offsets[-1]) * len(offsets) + (dx + offsets[-1])
                 for dy in offsets for dx in offsets}
        out: list[NetShifts] = []
        with torch.inference_mode():
            x = batch.to(self.device)
            for net in nets:
                logits, maps = capture(net, x)
                probs = torch.softmax(logits, 1).cpu().numpy()  # (81, 10)
                grid_probs = probs.reshape(len(offsets), len(offsets), 10)
                zero = grid_probs[centre, centre]
                top = int(zero.argmax())
                layers = []
                for spec, jump in zip(net.spec.layers, shift_lab.jumps(net.spec), strict=True):
                    m = maps[spec.name]
                    ref = m[index[(0, 0)]].cpu().numpy()
                    nudged = {name: m[index[d]].cpu().numpy()
                              for name, d in shift_lab.NUDGES.items()}
                    changes = {name: shift_lab.map_change(ref, after)
                               for name, after in nudged.items()}
                    # a one-pixel nudge is a whole number of units only where jump is 1
                    back = {name: shift_lab.change_shifted_back(ref, after,
                                                                shift_lab.NUDGES[name], jump)
                            for name, after in nudged.items()} if jump == 1 else None
                    layers.append(LayerShift(spec.name, jump, changes, back))
                out.append(NetShifts(
                    net.variant, top, float(zero[top]),
                    grid_probs.argmax(2), grid_probs.max(2), grid_probs[:, :, top], tuple(layers)))
        return ShiftResult(x28, offsets, tuple(out))

    # --- describe ------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """What /api/v1/models reports: every loaded variant's geometry, params and card."""
        out: list[dict[str, Any]] = []
        for variant, item in self.loaded.items():
            spec = variant_spec(variant)
            counts = param_counts(item.net)
            geometry = {g["name"]: g for g in receptive.describe(spec)}
            card = item.card
            out.append({
                "name": variant,
                "title": spec.title,
                "downsampling": spec.downsampling,
                "layers": [
                    {"name": layer.name, "kind": layer.kind, "shape": list(layer.shape),
                     "params": counts[layer.name],
                     "receptive_field": geometry[layer.name]["receptive_field"],
                     "reads": geometry[layer.name]["reads"],
                     "silent_channels": (card.get("silent_channels") or {}).get(layer.name)}
                    for layer in spec.layers
                ],
                "dense": [{"name": "dense1", "units": 64, "params": counts["dense1"]},
                          {"name": "dense2", "units": 10, "params": counts["dense2"]}],
                "params": sum(counts.values()),
                "test_accuracy": card.get("test_accuracy"),
                "valid_accuracy": card.get("valid_accuracy"),
                "shift_consistency": card.get("shift_consistency"),
                "shift_consistency_draws": card.get("shift_consistency_draws"),
                "epochs": card.get("epochs"),
                "seed": card.get("seed"),
                "augmentation": _augmentation(card),
                "weights_sha256": card["weights_sha256"],
            })
        return {"device": self.device_name, "models": out}


def _augmentation(card: dict[str, Any]) -> dict[str, Any] | None:
    """How a model card says its training images were varied at random; None for none."""
    training = card.get("training") or {}
    if not training.get("augment"):
        return None
    return {"shift_px": training.get("max_shift_px"), "rotate_deg": training.get("max_rotate_deg"),
            "scale": training.get("scale_range")}
