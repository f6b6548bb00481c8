"""The MNIST test digits on which max and avg give different answers, shipped with the page
(static/digits/max-avg.json, written by scripts/make_disagreements.py) so that a user can
look at the cases behind the accuracy tables: which digits max alone gets right, which avg
alone, and which neither.

The file names the sha256 of the weights it was measured with; the page offers it only
where the server runs those very weights (`offer`, against the digests the model cards give,
which loading checked), as other weights disagree elsewhere."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from app.ml import registry
from app.ml.data import Mnist
from app.ml.evaluate import p_words, predictions, sign_test

log = logging.getLogger(__name__)

PAIR = ("max", "avg")
FILE_NAME = "max-avg.json"


def build(models_dir: Path, mnist: Mnist, split: str = "test") -> dict[str, Any]:
    """Every digit of `split` that the two networks of PAIR answer differently, in MNIST's
    order: its index, label, both answers and its 28x28 grey levels (base64)."""
    images, labels = mnist.images(split), mnist.labels(split)
    loaded = {v: registry.load(models_dir, v) for v in PAIR}  # each checked against its card
    answers = {v: predictions(loaded[v].net, images) for v in PAIR}
    first, second = (answers[v] for v in PAIR)
    return {
        "split": split,
        "total": len(labels),
        "weights_sha256": {v: loaded[v].card["weights_sha256"] for v in PAIR},
        "digits": [
            {"index": int(i), "label": int(labels[i]),
             **{v: int(answers[v][i]) for v in PAIR},
             "pixels": base64.b64encode(images[i].tobytes()).decode()}
            for i in np.flatnonzero(first != second)],
    }


def counts(record: dict[str, Any]) -> dict[str, int]:
    """How many of the record's digits each network alone gets right, and neither."""
    first, second = PAIR
    out = {f"{first}_only": 0, f"{second}_only": 0, "neither": 0}
    for d in record["digits"]:
        key = (f"{first}_only" if d[first] == d["label"] else
               f"{second}_only" if d[second] == d["label"] else "neither")
        out[key] += 1
    return out


PIXELS_B64 = 1048  # characters of 784 bytes in base64


def _problem(record: Any) -> str | None:
    """What makes `record` other than `build` writes it (types and sizes, which the page
    relies on), or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    total = record.get("total")
    if not isinstance(record.get("split"), str) or type(total) is not int or total < 1:
        return "no split name or no whole total of at least 1 (the page divides by it)"
    sha = record.get("weights_sha256")
    if not isinstance(sha, dict) or not all(isinstance(sha.get(v), str) for v in PAIR):
        return "no weights_sha256 for " + " and ".join(PAIR)
    digits = record.get("digits")
    if not isinstance(digits, list):
        return "no list of digits"
    for d in digits:
        if not (isinstance(d, dict) and type(d.get("index")) is int
                and all(type(d.get(k)) is int and 0 <= d[k] <= 9 for k in ("label", *PAIR))
                and isinstance(d.get("pixels"), str) and len(d["pixels"]) == PIXELS_B64):
            return f"a digit unlike those it writes: {str(d)[:80]}"
    return None


def offer(path: Path, weights: dict[str, str]) -> dict[str, Any] | None:
    """What the page says of the file at `path` before it is fetched (its split, size and
    counts), or None where the page should not offer it: a network of PAIR not loaded
    (`weights`: the sha256 of each loaded network's weights), the file missing, unreadable
    or other than `build` writes it, or weights other than those it was measured with."""
    if not all(v in weights for v in PAIR):
        return None
    try:
        record = json.loads(path.read_text())
        problem = _problem(record)
        if problem is None:
            for variant in PAIR:
                if weights[variant] != record["weights_sha256"][variant]:
                    log.info("%s was measured with other %s weights: not offered", path,
                             variant)
                    return None
    except (OSError, ValueError) as exc:
        problem = str(exc)
    if problem is not None:
        log.warning("%s is not readable (%s): not offered", path, problem)
        return None
    split = counts(record)
    first, second = PAIR
    return {"split": record["split"], "total": record["total"],
            "count": len(record["digits"]), **split,
            "p": round(sign_test(split[f"{first}_only"], split[f"{second}_only"]), 4)}


def verdict(offered: dict[str, Any], valid: dict[str, float] | None) -> str:
    """What the split of the digits only one network gets right can be read as, after the
    counts the page gives: the exact sign test on this set, the other held-out set's
    accuracies (`valid`, each of PAIR's card's, where both cards have one), and that one
    training run each shows no way of downsampling better. Found by a review: the page
    called a 31 to 15 split too small to show the two differ, where p is 0.03; a second
    review: p is how unusual the split would be were the two equally good, not the chance
    that they are."""
    first, second = PAIR
    lead, trail = ((first, second) if offered[f"{first}_only"] >= offered[f"{second}_only"]
                   else (second, first))
    words = ("Were the two equally good, a split at least this uneven would be "
             + ("unusual" if offered["p"] < 0.05 else "common")
             + f": {p_words(offered['p'])} (an exact sign test).")
    if valid is not None:
        gap = round((valid[lead] - valid[trail]) * 100, 2)
        digits = round(abs(gap) * 100)  # of its 10,000 digits
        where = "the validation set, a second 10,000 digits that chose nothing in training,"
        ahead = f"by {abs(gap):.2f} points ({digits} digit{'s' if digits != 1 else ''})"
        if gap > 0:
            words += f" On {where} {lead} is ahead too, {ahead}."
        elif gap < 0:
            words += f" But on {where} {trail} is ahead, {ahead}: the lead is not repeated."
        else:
            words += f" But on {where} the two tie: the lead is not repeated."
    return (words + " Each network was trained once, so neither shows one way of "
            "downsampling to be the more accurate.")
