"""Training: a few dozen steps on a small slice lower the loss; the card says what happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from app.ml import registry, train
from app.ml.data import Mnist


@pytest.mark.slow
def test_a_few_dozen_steps_lower_the_loss_and_write_a_card(mnist: Mnist, tmp_path: Path) -> None:
    cfg = train.TrainConfig(epochs=2, batch_size=64, limit=1280, max_lr=3e-3)
    x = train.to_tensor(mnist.images("train")[:1280])
    y = torch.from_numpy(mnist.labels("train")[:1280])

    def loss_of(net: torch.nn.Module) -> float:
        with torch.no_grad():
            return float(F.cross_entropy(net(x), y))

    train.seed_everything(cfg.seed)
    before = loss_of(train.build("max"))
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


def test_training_is_deterministic_for_a_seed() -> None:
    cfg = train.TrainConfig()
    gen_a = train.seed_everything(cfg.seed)
    a = train.augment(torch.rand(4, 1, 28, 28, generator=gen_a), cfg, gen_a)
    gen_b = train.seed_everything(cfg.seed)
    b = train.augment(torch.rand(4, 1, 28, 28, generator=gen_b), cfg, gen_b)
    assert torch.equal(a, b)


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
