"""Shift consistency over several draws of random shifts, for every shipped network.

    python scripts/shift_draws.py [--draws 10]

`featuremaps evaluate --shifts` measures consistency (the share of the 10,000 test digits
whose predicted class is the same under two random shifts of up to 3 px) with one draw of
shifts, seed 0, and the model cards and the page's table hold that figure. A teacher's
review found that one draw was avg's best of six, and asked how much the draw moves it. This
prints each network's figure for seeds 0..draws-1 (the same shifts for every network in a
draw), its median and range, and for each pair of networks in how many draws the first is
ahead. Deterministic: the same weights and data give the same figures.
"""

from __future__ import annotations

import argparse
import itertools
import statistics

from app.config import Settings
from app.ml import data, registry, shifts
from app.ml.device import keep_freed_memory
from app.ml.evaluate import _predictor, to_tensor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    keep_freed_memory()  # one batch job, as `evaluate` runs (app/ml/device.py)
    settings = Settings(device="cpu")
    images = to_tensor(data.load(settings.data_dir).images("test"))
    figures: dict[str, list[float]] = {}
    for variant in registry.shipped_variants(settings.models_dir):
        predict = _predictor(registry.load(settings.models_dir, variant).net)
        figures[variant] = [100 * shifts.consistency(predict, images, seed)
                            for seed in range(args.draws)]
        drawn = figures[variant]
        each = ", ".join(f"{c:.2f}" for c in drawn)
        print(f"{variant:8} median {statistics.median(drawn):.2f}%, "  # noqa: T201
              f"{min(drawn):.2f}-{max(drawn):.2f} (seeds 0..{args.draws - 1}: {each})",
              flush=True)
    for a, b in itertools.permutations(figures, 2):
        ahead = sum(x > y for x, y in zip(figures[a], figures[b], strict=True))
        if ahead > args.draws // 2:
            print(f"{a} ahead of {b} in {ahead} of {args.draws} draws")  # noqa: T201


if __name__ == "__main__":
    main()
