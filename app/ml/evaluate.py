"""`featuremaps evaluate`: every shipped variant measured from its weights and the data."""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.ml import files, registry, shifts
from app.ml.capture import capture
from app.ml.data import Mnist
from app.ml.nets import Net, param_counts
from app.ml.train import to_tensor

log = logging.getLogger(__name__)


@dataclass
class Row:
    variant: str
    params: int
    correct: int
    total: int
    card_correct: int | None
    card_accuracy: float | None
    # the median of `consistency_draws`, one figure for each draw of random shifts, whose
    # seeds are `seeds`
    consistency: float | None = None
    consistency_draws: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    card_consistency: float | None = None
    card_draws: dict[int, float] = field(default_factory=dict)  # seed -> the card's figure
    diagonal: dict[int, float] = field(default_factory=dict)
    # the 10,000 validation digits, which training neither learned from nor was tuned on: a
    # second held-out set
    valid_correct: int | None = None
    valid_total: int | None = None
    card_valid_accuracy: float | None = None
    # {split: (N,) bool}, which digits this variant gets right, for paired comparisons
    right: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    # {layer: channels} that are 0 on every test digit (`silent_channels`), and as the card has them
    silent: dict[str, list[int]] | None = None
    card_silent: dict[str, list[int]] | None = None

    @property
    def accuracy(self) -> float:
        return self.correct / self.total

    @property
    def valid_accuracy(self) -> float | None:
        if self.valid_correct is None or not self.valid_total:
            return None
        return self.valid_correct / self.valid_total


def _predictor(net: torch.nn.Module) -> shifts.Predict:
    @torch.inference_mode()
    def predict(x: torch.Tensor) -> torch.Tensor:
        out: list[torch.Tensor] = []
        for start in range(0, len(x), 1000):
            out.append(net(x[start:start + 1000]).argmax(1))
        return torch.cat(out)

    return predict


def silent_channels(net: Net, images: torch.Tensor) -> dict[str, list[int]]:
    """Each layer's channels that are 0 at every unit on every one of `images` (N, 1, 28,
    28): a conv channel whose ReLU passes nothing, and any pool of one. Such a channel is
    dead: a ReLU passes no gradient where its sum is below 0, so while it stays silent on the
    training digits too, no gradient reaches its filter (weight decay alone shrinks it). (A
    teacher's review: a blank square in every conv1 grid, which students ask about, was not
    explained.)"""
    peaks: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        for start in range(0, len(images), 1000):
            _, maps = capture(net, images[start:start + 1000])
            for name, m in maps.items():
                peak = m.amax(dim=(0, 2, 3))
                peaks[name] = torch.maximum(peaks[name], peak) if name in peaks else peak
    return {name: torch.nonzero(peak <= 0).flatten().tolist() for name, peak in peaks.items()}


def predictions(net: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """Each image's answer, as `evaluate` measures it: uint8 (N, 28, 28) in, (N,) out."""
    return _predictor(net)(to_tensor(images)).numpy()


def evaluate_all(models_dir: Path, mnist: Mnist, *, shifts_too: bool = False,
                 seed: int = 0, draws: int = shifts.CONSISTENCY_DRAWS,
                 progress: Callable[[str], None] = lambda line: None) -> list[Row]:
    """Every shipped variant measured; with `shifts_too`, its consistency over `draws` draws
    of random shifts (seeds seed, seed + 1, ...: the same shifts for every variant in a
    draw) and its accuracy under diagonal shifts. `progress` is told what is being measured
    as it starts (minutes with the shifts: an API review took a silent run for a hung one)."""
    variants = registry.shipped_variants(models_dir)
    if not variants:  # an empty table would read as nothing wrong
        raise registry.no_cards(models_dir)
    images = to_tensor(mnist.images("test"))
    labels = torch.from_numpy(mnist.labels("test"))
    valid_images = to_tensor(mnist.images("valid"))
    valid_labels = torch.from_numpy(mnist.labels("valid"))
    rows: list[Row] = []
    for n, variant in enumerate(variants, 1):
        which = f"{variant} ({n} of {len(variants)})"
        progress(f"{which}: accuracy and silent channels")
        loaded = registry.load(models_dir, variant)
        predict = _predictor(loaded.net)
        right = {"test": predict(images) == labels, "valid": predict(valid_images) == valid_labels}
        correct = int(right["test"].sum())
        card = loaded.card
        row = Row(variant, sum(param_counts(loaded.net).values()), correct, len(labels),
                  card.get("test_correct"), card.get("test_accuracy"),
                  card_consistency=card.get("shift_consistency"), card_draws=_card_draws(card),
                  valid_correct=int(right["valid"].sum()), valid_total=len(valid_labels),
                  card_valid_accuracy=card.get("valid_accuracy"), right=right,
                  silent=silent_channels(loaded.net, images),
                  card_silent=card.get("silent_channels"))
        if shifts_too:
            row.consistency_draws = shifts.consistency_draws(
                predict, images, seed, draws,
                lambda i, which=which: progress(  # type: ignore[misc]
                    f"{which}: shift consistency, draw {i + 1} of {draws}"))
            row.seeds = list(range(seed, seed + draws))
            # an odd number of draws (the CLI's) has a middle one; of an even number, the lower
            # of the two middle ones, a draw's whole count of digits too
            row.consistency = statistics.median_low(row.consistency_draws)
            progress(f"{which}: accuracy under diagonal shifts")
            row.diagonal = shifts.diagonal_accuracy(predict, images, labels)
        log.info("evaluated %s: %d/%d", variant, correct, len(labels))
        rows.append(row)
    return rows


def _card_draws(card: dict[str, Any]) -> dict[int, float]:
    """A card's shift consistency by the seed of its draw: every draw where it holds them,
    else its one draw's (cards written before there were several)."""
    seeds, draws = card.get("shift_seeds"), card.get("shift_consistency_draws")
    if isinstance(seeds, list) and isinstance(draws, list) and len(seeds) == len(draws):
        return dict(zip(seeds, draws, strict=True))
    if isinstance(card.get("shift_seed"), int) and card.get("shift_consistency") is not None:
        return {card["shift_seed"]: card["shift_consistency"]}
    return {}


def format_table(rows: list[Row], *, shifts_too: bool = False) -> list[str]:
    head = f"{'variant':<9} {'params':>10} {'test accuracy':>14} {'card':>8} {'validation':>11}"
    if shifts_too:
        head += f" {'consistency':>12} {'its draws':>14} {'acc @ -4/0/+4 px diag':>22}"
    lines = [head, "-" * len(head)]
    for r in rows:
        card = f"{r.card_accuracy:.2%}" if r.card_accuracy is not None else "-"
        valid = f"{r.valid_accuracy:.2%}" if r.valid_accuracy is not None else "-"
        line = f"{r.variant:<9} {r.params:>10,} {r.accuracy:>14.2%} {card:>8} {valid:>11}"
        if shifts_too and r.consistency is not None:
            d = r.diagonal
            spread = f"{min(r.consistency_draws):.2%}-{max(r.consistency_draws):.2%}" \
                if len(r.consistency_draws) > 1 else "-"
            line += (f" {r.consistency:>12.2%} {spread:>14} "
                     f"{d[-4]:>7.1%}/{d[0]:>5.1%}/{d[4]:>6.1%}".rjust(23))
        lines.append(line)
    draws = max((len(r.consistency_draws) for r in rows), default=0)
    if shifts_too and draws > 1:
        lines.append(f"consistency: the median of {draws} draws of random shifts, the same "
                     "for every variant in a draw; its draws: the lowest and the highest")
    return lines


SPLIT_NAMES = {"test": "test", "valid": "validation", "both": "both"}


def sign_test(a: int, b: int) -> float:
    """Exact two-sided p of a split of a + b paired differences at least as uneven as a to b,
    were each side equally likely (McNemar's exact test)."""
    n, k = a + b, min(a, b)
    tail, term = 0, 1  # term: n choose i, built up (math.comb each time is quadratic in n)
    for i in range(k + 1):
        tail += term
        term = term * (n - i) // (i + 1)
    p: float = 2 * tail / 2 ** n
    return min(1.0, p)


def p_words(value: float) -> str:
    return "p < 0.01" if value < 0.01 else f"p = {value:.2f}"


def paired(rows: list[Row], base: str = "max") -> list[str]:
    """`base` against every other variant, on the digits one gets right and the other wrong:
    on the test set, on the validation set, and on both, with the exact two-sided p."""
    first = next((r for r in rows if r.variant == base), None)
    if first is None:
        return []
    lines = []
    for r in rows:
        splits = [s for s in ("test", "valid") if s in first.right and s in r.right]
        if r is first or not splits:
            continue
        alone: dict[str, tuple[int, int]] = {
            s: (int((first.right[s] & ~r.right[s]).sum()),
                int((r.right[s] & ~first.right[s]).sum()))
            for s in splits}
        if len(splits) > 1:
            alone["both"] = (sum(alone[s][0] for s in splits), sum(alone[s][1] for s in splits))
        lines.append(f"{base} against {r.variant}: " + ", ".join(
            f"{SPLIT_NAMES[s]} {a} to {b} ({p_words(sign_test(a, b))})"
            for s, (a, b) in alone.items()))
    if lines:  # what the counts are, once
        lines.insert(0, f"Digits only one of two networks gets right, {base}'s count first "
                        "(p: exact two-sided McNemar test):")
    return lines


def draws_ahead(rows: list[Row], base: str = "max") -> list[str]:
    """In how many draws of shifts `base` was more consistent than each other variant, and
    in how many less: the draws move every figure by as much as the gaps between them."""
    first = next((r for r in rows if r.variant == base), None)
    if first is None or len(first.consistency_draws) < 2:
        return []
    said = []
    for r in rows:
        if r is first or len(r.consistency_draws) != len(first.consistency_draws):
            continue
        pairs = list(zip(first.consistency_draws, r.consistency_draws, strict=True))
        ahead, behind = sum(a > b for a, b in pairs), sum(a < b for a, b in pairs)
        said.append(f"{r.variant} {ahead} to {behind}")
    if not said:
        return []
    return [f"Draws of shifts in which {base} was more consistent, and less, than: "
            + ", ".join(said) + f" (of {len(first.consistency_draws)})"]


def disagreements(rows: list[Row], tolerance: int = 2) -> list[str]:
    """Cards whose recorded results (test and validation accuracy, shift consistency) differ
    from what was measured by more than `tolerance` images."""
    bad: list[str] = []
    for r in rows:
        if r.card_correct is None:
            bad.append(f"{r.variant}: card has no test_correct")
        elif abs(r.card_correct - r.correct) > tolerance:
            bad.append(f"{r.variant}: card says {r.card_correct}/{r.total} correct, "
                       f"measured {r.correct}/{r.total}")
        # the shares the table prints and /api/v1/models serves (found by a review: a card
        # with a wrong test_accuracy and a right test_correct passed)
        # consistency draw by draw, each against the card's draw of the same seed, and its
        # median only where the card's draws are the ones measured (a diff review: --draws 1
        # was told that the card's median of eleven disagreed)
        same_draws = sorted(r.card_draws) == r.seeds  # both empty: no draws either side
        shares = [("test accuracy", r.card_accuracy, r.accuracy, r.total, "{:.2%}"),
                  ("validation accuracy", r.card_valid_accuracy, r.valid_accuracy, r.valid_total,
                   "{:.2%}")]
        if same_draws:
            shares.append(("consistency", r.card_consistency, r.consistency, r.total, "{:.4f}"))
        shares += [(f"consistency for the draw of seed {seed}", r.card_draws.get(seed), measured,
                    r.total, "{:.4f}")
                   for seed, measured in zip(r.seeds, r.consistency_draws, strict=True)]
        for name, card, measured, total, shown in shares:
            # in whole images: 0.9853 against 0.9855 is 2.00000000000089 of 10,000 in floats
            if card is not None and measured is not None and total and \
                    round(abs(card - measured) * total) > tolerance:
                bad.append(f"{r.variant}: card says {name} {shown.format(card)}, "
                           f"measured {shown.format(measured)}")
        if r.card_silent is not None and r.silent is not None and r.card_silent != r.silent:
            bad.append(f"{r.variant}: card says silent channels {r.card_silent}, "
                       f"measured {r.silent}")
    return bad


def save_shift_results(rows: list[Row], path: Path) -> dict[str, Any]:
    """The curve data as JSON at `path`."""
    doc: dict[str, Any] = {
        "consistency_seeds": next((r.seeds for r in rows if r.seeds), []),
        "consistency_max_shift_px": shifts.MAX_CONSISTENCY_SHIFT,
        "diagonal_shifts_px": list(shifts.DIAGONAL_SHIFTS),
        "variants": {
            r.variant: {"params": r.params, "test_accuracy": r.accuracy,
                        "consistency": r.consistency,
                        "consistency_draws": r.consistency_draws,
                        "diagonal_accuracy": [r.diagonal[d] for d in shifts.DIAGONAL_SHIFTS]}
            for r in rows
        },
    }
    files.check_file(path, "shifts.json")
    with files.replacing(path) as (temp,):  # whole or not at all
        temp.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def write_cards(rows: list[Row], models_dir: Path) -> None:
    """Record in each model card its silent channels and, where they were measured, its
    shift consistency and diagonal curve."""
    for r in rows:
        if r.silent is None and r.consistency is None:
            continue
        path = registry.card_path(models_dir, r.variant)
        card = json.loads(path.read_text())
        if r.silent is not None:
            card["silent_channels"] = r.silent
        if r.consistency is not None:
            card["shift_consistency"] = r.consistency
            for key in ("shift_consistency_draws", "shift_seeds", "shift_seed"):
                card.pop(key, None)  # shift_seed: one draw's, before there were several
            if r.consistency_draws:  # none: null in /api/v1/models, not an empty list
                card["shift_consistency_draws"] = r.consistency_draws
                card["shift_seeds"] = r.seeds
            card["diagonal_accuracy"] = {str(d): r.diagonal[d] for d in shifts.DIAGONAL_SHIFTS}
        with files.replacing(path) as (temp,):  # a torn card would stop `serve`
            temp.write_text(json.dumps(card, indent=2) + "\n")
