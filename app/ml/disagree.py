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
from app.ml.names import DEFAULT_MODELS

log = logging.getLogger(__name__)

PAIR = DEFAULT_MODELS  # the page's pair
FILE_NAME = "max-avg.json"
ALSO = "valid"  # the other held-out split, whose counts alone the file holds
COUNTS = (f"{PAIR[0]}_only", f"{PAIR[1]}_only", "neither")


def build(models_dir: Path, mnist: Mnist, split: str = "test",
          also: str = "valid") -> dict[str, Any]:
    """Every digit of `split` that the two networks of PAIR answer differently, in MNIST's
    order: its index, label, both answers and its 28x28 grey levels (base64); and of the
    other held-out split `also`, the counts alone (`counts`' keys and its total), which the
    page's reading of the split needs (`verdict`)."""
    loaded = {v: registry.load(models_dir, v) for v in PAIR}  # each checked against its card

    def differing(name: str) -> tuple[np.ndarray, list[dict[str, int]]]:
        """A split's images, and each digit the two answer differently: index, label, answers."""
        images, labels = mnist.images(name), mnist.labels(name)
        answers = {v: predictions(loaded[v].net, images) for v in PAIR}
        return images, [{"index": int(i), "label": int(labels[i]),
                         **{v: int(answers[v][i]) for v in PAIR}}
                        for i in np.flatnonzero(answers[PAIR[0]] != answers[PAIR[1]])]

    images, digits = differing(split)
    _, others = differing(also)
    return {
        "split": split,
        "total": len(images),
        "weights_sha256": {v: loaded[v].card["weights_sha256"] for v in PAIR},
        "digits": [{**d, "pixels": base64.b64encode(images[d["index"]].tobytes()).decode()}
                   for d in digits],
        also: {"total": len(mnist.labels(also)), **counts({"digits": others})},
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
    other = record.get(ALSO)
    if other is not None and not (isinstance(other, dict) and all(
            type(other.get(k)) is int and other[k] >= 0 for k in (*COUNTS, "total"))):
        return f"{ALSO} counts unlike those it writes"
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
    one, two = COUNTS[:2]
    offered: dict[str, Any] = {"split": record["split"], "total": record["total"],
                               "count": len(record["digits"]), **split,
                               "p": round(sign_test(split[one], split[two]), 4)}
    other = record.get(ALSO)
    if other is not None:
        offered[ALSO] = {**other, "p": round(sign_test(other[one], other[two]), 4)}
        offered["both_p"] = round(sign_test(split[one] + other[one], split[two] + other[two]), 4)
    return offered


def verdict(offered: dict[str, Any]) -> str:
    """What the split of the digits only one network gets right can be read as, after the
    counts the page gives: the exact sign test on this split, the other held-out split's
    (ALSO, where the file has it) and both together, and that one training run each shows
    no way of downsampling better. Found by a review: the page called a 31 to 15 split too
    small to show the two differ, where p is 0.03; a second review: p is how unusual the
    split would be were the two equally good, not the chance that they are."""
    one, two = COUNTS[:2]
    first, second = PAIR
    leads = offered[one] >= offered[two]
    words = ("Were the two equally good, a split at least this uneven would be "
             + ("unusual" if offered["p"] < 0.05 else "common")
             + f": {p_words(offered['p'])} (an exact sign test).")
    other = offered.get(ALSO)
    if other is not None:
        split = f"{first} {other[one]} to {second} {other[two]} ({p_words(other['p'])})"
        where = (f"the validation set, a second {other['total']:,} digits that training "
                 "neither learned from nor was tuned on,")
        same = other[one] > other[two] if leads else other[two] > other[one]
        words += (f" On {where} it leans the same way: {split}." if same else
                  f" But {where} does not repeat it: {split}.")
        both = f"{offered[one] + other[one]} to {offered[two] + other[two]}"
        words += f" Over both sets, {both} ({p_words(offered['both_p'])})."
    return (words + " Each network was trained once, so neither shows one way of "
            "downsampling to be the more accurate.")
