"""Training: a few dozen steps on a small slice lower the loss; the card says what happened."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from app.ml import registry, train
from app.ml.data import Mnist
from app.ml.errors import WeightsError
from app.ml.nets import build
from tests.unit.fakes import interrupt, tiny_mnist


@pytest.mark.slow
def test_a_few_dozen_steps_lower_the_loss_and_write_a_card(mnist: Mnist, tmp_path: Path) -> None:
    cfg = train.TrainConfig(epochs=2, batch_size=64, limit=1280, max_lr=3e-3)
    x = train.to_tensor(mnist.images("train")[:1280])
    y = torch.from_numpy(mnist.labels("train")[:1280])

    def loss_of(net: torch.nn.Module) -> float:
        with torch.no_grad():
            return float(F.cross_entropy(net(x), y))

    train.seed_everything(cfg.seed)
    before = loss_of(build("max"))
    result = train.train("max", mnist, cfg, progress=False)
    assert len(result.history) == 2
    after = loss_of(result.net)
    assert after < 0.6 * before  # 40 steps take the loss well below chance (ln 10 = 2.30)
    assert result.history[-1].loss < result.history[0].loss

    card = train.save(result, mnist, cfg, tmp_path)
    on_disk = json.loads((tmp_path / "max.json").read_text())
    assert on_disk == json.loads(json.dumps(card))
    assert card["params"] == 93_322 and card["epochs"] == 2 and card["seed"] == cfg.seed
    assert card["test_total"] == 10_000 and 0 < card["test_accuracy"] <= 1
    assert card["data_sha256"] == mnist.sha256 and card["torch_version"] == torch.__version__
    loaded = registry.load(tmp_path, "max")  # the sha256 in the card matches the file
    assert loaded.card["weights_sha256"] == card["weights_sha256"]


@pytest.mark.slow
def test_training_is_deterministic_for_a_seed(mnist: Mnist) -> None:
    """Two runs with one seed give the same weights to the last bit, their augmentation and
    order included, and another seed other weights (a test audit: this compared augment()
    with itself, and passed with the seed ignored or training's generator unseeded)."""
    def weights(seed: int) -> dict[str, torch.Tensor]:
        cfg = train.TrainConfig(epochs=1, batch_size=32, limit=96, seed=seed)
        return train.train("max", mnist, cfg, progress=False).net.state_dict()

    a, b, other = weights(1), weights(1), weights(2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not any(torch.equal(a[k], other[k]) for k in a)


def test_augmentation_follows_its_generator() -> None:
    """augment() draws from the generator it is given: one seed twice, the same images;
    another seed, others."""
    cfg = train.TrainConfig()
    x = torch.zeros(4, 1, 28, 28)
    x[:, :, 8:20, 12:16] = 1.0
    a = train.augment(x, cfg, torch.Generator().manual_seed(5))
    assert torch.equal(a, train.augment(x, cfg, torch.Generator().manual_seed(5)))
    assert not torch.equal(a, train.augment(x, cfg, torch.Generator().manual_seed(6)))


def test_augmentation_moves_ink_but_keeps_it() -> None:
    cfg = train.TrainConfig()
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 8:20, 12:16] = 1.0
    out = train.augment(x, cfg, gen)
    assert out.shape == x.shape
    assert not torch.equal(out, x)
    ink = out.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    assert ink.min() > 0.6 and ink.max() < 1.5  # scaled at most by 0.85..1.10 squared, no loss


def test_scaling_and_turning_carry_the_shift_past_its_own_size() -> None:
    """The shift is drawn before the digit is scaled and turned, so a digit's centre moves up
    to shift x the largest scale x (cos + sin) of the largest turn in x or y: 3.26 px for
    2.5 px, 1.1 and 12 degrees, which the page says (found by a science review: "up to
    2.5 px" undersold it beside the shift lab's 3 and 4 px)."""
    cfg = train.TrainConfig()
    turn = math.radians(cfg.max_rotate_deg)
    bound = cfg.max_shift_px * cfg.scale_range[1] * (math.cos(turn) + math.sin(turn))
    assert round(bound, 1) == 3.3
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(20_000, 1, 28, 28)
    x[:, :, 12:16, 12:16] = 1.0  # a blob centred on the middle of the image, (13.5, 13.5)
    out = train.augment(x, cfg, gen)
    mass = out.sum(dim=(1, 2, 3))
    grid = torch.arange(28, dtype=torch.float32) - 13.5
    dy = (out.sum(dim=(1, 3)) * grid).sum(1) / mass
    dx = (out.sum(dim=(1, 2)) * grid).sum(1) / mass
    far = float(torch.maximum(dx.abs(), dy.abs()).max())
    assert cfg.max_shift_px + 0.4 < far <= bound + 0.01


def saved(models_dir: Path, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    return train.save(train.TrainResult(build("max")), tiny_mnist(), train.TrainConfig(),
                      models_dir)


def test_saved_weights_load_by_their_card(tmp_path: Path) -> None:
    card = saved(tmp_path, 0)
    assert sorted(os.listdir(tmp_path)) == ["max.json", "max.safetensors"]
    assert (tmp_path / "max.safetensors").stat().st_mode & 0o777 == 0o644
    assert card["test_total"] == 20
    assert registry.load(tmp_path, "max").card == json.loads(json.dumps(card))


@pytest.mark.parametrize("stage", ["test pass", "card"])
def test_an_interrupted_save_keeps_the_old_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                stage: str) -> None:
    """Found by a review: the new weights were written before the test pass and the card,
    so Ctrl-C in between left a pair `serve` refused."""
    saved(tmp_path, 0)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}

    if stage == "test pass":
        monkeypatch.setattr(train, "accuracy", interrupt)
    else:
        monkeypatch.setattr(json, "dumps", interrupt)
    with pytest.raises(KeyboardInterrupt):
        saved(tmp_path, 1)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
    registry.load(tmp_path, "max")


def test_a_stop_between_the_renames_leaves_weights_their_card_refuses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one window left (app/ml/files.py): the weights are renamed first, so a stop there
    leaves new weights under the old card, which the sha256 check refuses; never an old
    file under a new card that would vouch for it."""
    saved(tmp_path, 0)
    old_card = (tmp_path / "max.json").read_bytes()
    replace = os.replace
    calls: list[str] = []

    def stop_before_the_card(src: Path, dst: Path) -> None:
        calls.append(Path(dst).name)
        if Path(dst).name == "max.json":
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(os, "replace", stop_before_the_card)
    with pytest.raises(KeyboardInterrupt):
        saved(tmp_path, 1)
    assert calls == ["max.safetensors", "max.json"]
    assert (tmp_path / "max.json").read_bytes() == old_card
    assert sorted(os.listdir(tmp_path)) == ["max.json", "max.safetensors"]
    with pytest.raises(WeightsError, match="refusing it"):
        registry.load(tmp_path, "max")
