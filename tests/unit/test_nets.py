"""The model family matches the Keras model of the source article, shape for shape."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import torch

from app.ml.names import VARIANTS
from app.ml.nets import build, param_counts

KERAS_SHAPES = {  # (C, H, W) per layer, as model.summary() of the article's model
    "conv1": (32, 26, 26), "pool1": (32, 13, 13), "conv2": (64, 11, 11),
    "pool2": (64, 5, 5), "conv3": (64, 3, 3),
}
KERAS_PARAMS = {"conv1": 320, "pool1": 0, "conv2": 18_496, "pool2": 0, "conv3": 36_928,
                "dense1": 36_928, "dense2": 650}


def shapes(variant: str) -> dict[str, tuple[int, ...]]:
    net = build(variant)
    x = torch.zeros(1, 1, 28, 28)
    out = {}
    for name, module in net.named_stages():
        x = module(x)
        out[name] = tuple(x.shape[1:])
    return out


@pytest.mark.parametrize("variant", ["max", "avg", "blurmax"])
def test_pooling_variants_match_the_keras_model(variant: str) -> None:
    assert shapes(variant) == KERAS_SHAPES
    counts = param_counts(build(variant))
    assert counts == KERAS_PARAMS
    assert sum(counts.values()) == 93_322
    assert sum(p.numel() for p in build(variant).parameters()) == 93_322


def test_nopool_conv3_is_the_articles_30976_values() -> None:
    s = shapes("nopool")
    assert s == {"conv1": (32, 26, 26), "conv2": (64, 24, 24), "conv3": (64, 22, 22)}
    c, h, w = s["conv3"]
    assert c * h * w == 30_976
    counts = param_counts(build("nopool"))
    assert counts["dense1"] == 30_976 * 64 + 64
    # the article's Dense(512) on the same flatten would need ~15.8M weights
    assert 30_976 * 512 + 512 == 15_860_224


def test_strided_variant_downsamples_in_the_convs() -> None:
    assert shapes("strided") == {"conv1": (32, 13, 13), "conv2": (64, 6, 6), "conv3": (64, 4, 4)}
    counts = param_counts(build("strided"))
    assert counts == {"conv1": 320, "conv2": 18_496, "conv3": 36_928,
                      "dense1": 4 * 4 * 64 * 64 + 64, "dense2": 650}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_gives_ten_logits_for_a_batch(variant: str) -> None:
    assert build(variant)(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_conv_maps_are_after_relu() -> None:
    torch.manual_seed(0)
    net = build("max")
    out = net.get_submodule("conv1")(torch.randn(1, 1, 28, 28))
    assert out.min() >= 0
    assert (out == 0).any()  # some negatives were clipped


def test_unknown_variant_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="max, avg, strided, nopool, blurmax"):
        build("maxx")


def _start_and_trained(variant: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor],
                                               dict[str, Any]]:
    """A shipped variant's weights as its training began and as shipped, and its card."""
    from safetensors.torch import load_file

    from tests.conftest import MODELS_DIR

    card = json.loads((MODELS_DIR / f"{variant}.json").read_text())
    with torch.random.fork_rng():
        torch.manual_seed(card["seed"])  # as app/ml/train.py seeds its run before `build`
        start = build(variant).state_dict()
    return start, load_file(str(MODELS_DIR / f"{variant}.safetensors")), card


@pytest.mark.parametrize("variant", VARIANTS)
def test_training_moved_conv1_least_from_its_random_start(variant: str) -> None:
    """What the page says of the shipped weights, under "Why do ... conv1 maps look alike?"
    and in conv1's note (a teacher's review: conv1's filters were read as designed edge
    detectors): each conv1 filter still points much as the random filter it began as, while
    conv2's and conv3's grew three to four times as large and turned away from theirs."""
    start, trained, _ = _start_and_trained(variant)

    def medians(layer: str) -> tuple[float, float]:
        """Median over the filters of the cosine to the start, and of the length ratio."""
        a, b = start[f"{layer}.weight"].flatten(1), trained[f"{layer}.weight"].flatten(1)
        cosine = torch.nn.functional.cosine_similarity(a, b, dim=1).median()
        return float(cosine), float((b.norm(dim=1) / a.norm(dim=1)).median())

    cosine, grown = medians("conv1")
    assert cosine > 0.9 and grown < 1.5, (cosine, grown)
    for layer in ("conv2", "conv3"):
        cosine, grown = medians(layer)
        assert cosine < 0.45 and 2.5 < grown < 4.5, (layer, cosine, grown)


def test_a_new_variant_with_pools_needs_its_own_pooling_module(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a newcomer's review: a variant added with max's layer plan but no pooling
    branch in Net got blurmax's pool without a word."""
    from app.ml import nets

    planned = dataclasses.replace(nets.variant_spec("max"), name="lppool")  # its layers
    monkeypatch.setattr(nets, "variant_spec", lambda variant: planned)
    with pytest.raises(ValueError, match="variant 'lppool' has pools but no pooling module"):
        nets.Net("lppool")


@pytest.mark.parametrize(("variant", "layer", "channel", "moved", "live"),
                         [("avg", "conv2", 13, 0.06, 2.39), ("max", "conv3", 38, 1.77, 1.99)])
def test_the_deeper_dead_channels_moved_from_their_start_some_barely(
        variant: str, layer: str, channel: int, moved: float, live: float) -> None:
    """The README's words on dead channels (The networks, measured): unlike conv1's 30, the
    deeper ones moved from their random start before they fell silent, some barely, some
    about as far as the live ones (a science review: "trained before they fell silent" was
    said of them all). The distance of each filter from the one it began as, and the median
    over the layer's live channels."""
    start, trained, card = _start_and_trained(variant)
    dead = card["silent_channels"][layer]
    assert channel in dead
    distance = (trained[f"{layer}.weight"] - start[f"{layer}.weight"]).flatten(1).norm(dim=1)
    living = [c for c in range(distance.numel()) if c not in dead]
    assert round(float(distance[channel]), 2) == moved
    assert round(float(distance[living].median()), 2) == live
