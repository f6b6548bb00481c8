"""How photos of MNIST's test digits are read once prepared (python scripts/photo_check.py).

Each of the first N test digits (--digits, 100) is drawn as dark ink (30 of 255) on paper,
392 px wide, either filling the picture or in the middle of a page twice its width, on each
kind of paper below. Each picture goes through the one-image routes' preparation
(preprocess.from_image), and max and avg are asked what it is. The same papers with nothing
on them are asked too: an empty page should be prepared as blank (all zeros). Prints how
many digits each network read right, and whether each empty page was blank: the README's
figures for photos lit unevenly or shadowed.

Papers: plain at 235; lit unevenly (220, 60 levels darker on one side than the other); lit
from a corner (80 levels between opposite corners); lit unevenly as a phone's JPEG (noise of
6 levels, quality 75); grey paper (180) as a dim phone's JPEG (noise of 14 levels, over half
the bar that ink must clear there); a vignette (corners 50 levels darker than the middle);
a dark band (60) 12 px wide along the left edge, on white paper and on the noisy grey
paper; a soft shadow along the top edge (60 fading to the paper's 235 over 48 px); the
sheet on a darker table (90), which shows a sixteenth of each side wide all round; ruled
paper (lines at 177, 1 px, every 40 px) and squared paper (the same lines both ways); a
stray dot of ink near a corner, far from the digit (a sixtieth of the side in radius); a
faint scribble (150, 2 px wide) down the right-hand margin; a soft shadow from a corner (the
paper darkening from 235 to 85 over the last 45% of the diagonal to the bottom-right corner,
as a phone's or a hand's shadow falls); a shadow across the page (its right 30% 110 levels
darker, its edge fading over 15% of the width), which falls on the digit in a picture it
fills. An empty page with a dot or a scribble is not blank: the mark is all the ink there is.
"""

from __future__ import annotations

import argparse
import io

import numpy as np
from PIL import Image

from app.config import Settings
from app.ml import data, preprocess
from app.ml.engine import Engine

SIDE = 392
INK = 30
PAPERS = ("plain", "uneven light", "light from a corner", "uneven light, JPEG",
          "grey, noisy JPEG", "vignette", "shadow at an edge", "shadow, noisy JPEG",
          "soft shadow", "sheet on a table", "ruled", "squared", "a stray dot",
          "a faint scribble", "shadow from a corner", "shadow across")
NOISE = {"uneven light, JPEG": 6, "grey, noisy JPEG": 14, "shadow, noisy JPEG": 14}  # levels


def paper(kind: str, n: int) -> np.ndarray:
    """The page's level at each pixel, n x n."""
    x = np.linspace(-0.5, 0.5, n)
    if kind in ("uneven light", "uneven light, JPEG"):
        return np.tile(220 + 60 * x, (n, 1))
    if kind == "light from a corner":
        return 215 + 40 * x[None, :] + 40 * x[:, None]
    if kind == "vignette":
        return 245 - 100 * (x[None, :] ** 2 + x[:, None] ** 2)  # 50 darker at the corners
    if kind == "shadow from a corner":  # from 0.55 of the diagonal on, to 85 at the corner
        return 235 - 150 * np.clip((x[None, :] + x[:, None] - 0.1) / 0.9, 0, 1)
    if kind == "shadow across":  # the right 30%, its edge fading in from 0.55 to 0.7
        return np.tile(235 - 110 * np.clip((x + 0.5 - 0.55) / 0.15, 0, 1), (n, 1))
    sheet = np.full((n, n), 180.0 if kind.endswith("noisy JPEG") else 235.0)
    if kind.startswith("shadow"):  # at an edge, and on the noisy grey paper
        sheet[:, :12] = 60
    elif kind == "soft shadow":
        sheet[:48] = np.linspace(60, 235, 48)[:, None]
    elif kind in ("ruled", "squared"):
        sheet[10::40] = 177
        if kind == "squared":
            sheet[:, 10::40] = 177
    elif kind == "a stray dot":  # of the ink's own level, near a corner
        yy, xx = np.ogrid[:n, :n]
        sheet[(yy - 0.9 * n) ** 2 + (xx - 0.08 * n) ** 2 <= (n / 60) ** 2] = INK
    elif kind == "a faint scribble":  # at 150, 2 px wide, down the right-hand margin
        t = np.arange(int(0.3 * n))
        ys = (0.35 * n + t).astype(int)
        xs = (0.93 * n + 0.02 * n * np.sin(t / 6)).astype(int)
        for dy in (0, 1):
            sheet[ys, np.minimum(xs + dy, n - 1)] = 150
    elif kind == "sheet on a table":
        table = np.full((n, n), 90.0)
        m = n // 16
        table[m:n - m, m:n - m] = sheet[m:n - m, m:n - m]
        return table
    return sheet


def photo(digit: np.ndarray | None, kind: str, in_page: bool) -> bytes:
    n = 2 * SIDE if in_page else SIDE
    ink = np.zeros((n, n))
    if digit is not None:
        at = (n - SIDE) // 2
        big = Image.fromarray(digit).resize((SIDE, SIDE), Image.Resampling.BICUBIC)
        ink[at:at + SIDE, at:at + SIDE] = np.asarray(big) / 255
    grey = paper(kind, n) * (1 - ink) + INK * ink
    buf = io.BytesIO()
    if kind.endswith("JPEG"):
        noise = np.random.default_rng(0).normal(0, NOISE[kind], grey.shape)
        Image.fromarray(np.clip(np.rint(grey + noise), 0, 255).astype(np.uint8)).save(
            buf, "JPEG", quality=75)
    else:
        Image.fromarray(np.rint(grey).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--digits", type=int, default=100)
    args = parser.parse_args()
    settings = Settings(device="cpu", models=["max", "avg"])
    engine = Engine.load(settings)
    mnist = data.load(settings.data_dir)
    images, labels = mnist.images("test")[:args.digits], mnist.labels("test")[:args.digits]
    say = print  # noqa: T201
    say(f"digits read right of {len(labels)} (max / avg), and whether an empty page is blank")
    say(f"{'paper':<20} {'filling the picture':>20} {'in a page twice its width':>26}"
        f" {'empty page blank':>17}")
    for kind in PAPERS:
        cells = []
        for in_page in (False, True):
            right = {"max": 0, "avg": 0}
            for digit, label in zip(images, labels, strict=True):
                x28 = preprocess.from_image(photo(digit, kind, in_page), 10**7)
                said = engine.featuremaps(x28, ["max", "avg"]).predictions()
                for net in right:
                    right[net] += int(said[net] == label)
            cells.append(f"{right['max']} / {right['avg']}")
        blank = all(not preprocess.from_image(photo(None, kind, p), 10**7).any()
                    for p in (False, True))
        say(f"{kind:<20} {cells[0]:>20} {cells[1]:>26} {'yes' if blank else 'no':>17}")


if __name__ == "__main__":
    main()
