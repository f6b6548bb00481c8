"""`make bench` ends with one table of the targets (bench/__main__.py, summary)."""

from __future__ import annotations

from typing import Any

from bench.__main__ import summary
from bench.common import busy_workers
from bench.server import PAGE_CASE


def figures(ratio: float, speedup: float, max_bytes: int, errors: int,
            growth: float) -> dict[str, Any]:
    lat = {"ratio": ratio, "p50_ms": 1.5, "p99_ms": 3.0}
    page = {"ratio": ratio - 0.25, "p50_ms": 1.2, "p99_ms": 2.5}
    return {
        "server": {
            "latency": {"binary": lat, "binary+gzip": lat, "json": lat, PAGE_CASE: page},
            "vs_naive": {"speedup": speedup, "ours_rps": 80.0 * speedup, "naive_rps": 80.0,
                         "speedup_vs_untyped": speedup * 9},
            "bytes": {"binary+gzip": {"median": max_bytes - 3000, "max": max_bytes}},
            "load16": [{"workers": w, "rps": 400.0 * w, "errors": errors, "busy": busy}
                       for w, busy in ((1, 1), (2, 2), (4, 1))],
        },
        "batch": [{"memory_kept": True, "layers": "all", "images_per_s": 1700.0},
                  {"memory_kept": True, "layers": "pool2", "images_per_s": 4200.0},
                  {"memory_kept": False, "layers": "all", "images_per_s": 1600.0}],
        "soak": {"rss_growth": growth, "good_5xx": 0, "bad_5xx": 0},
    }


def verdicts(text: str) -> list[str]:
    rows = text.splitlines()[2:8]
    return [row.rstrip().rsplit("  ", 1)[-1].strip() for row in rows]


def test_each_target_is_judged_from_its_own_figure() -> None:
    good = summary(figures(ratio=1.9, speedup=51, max_bytes=39_000, errors=0, growth=0.02))
    assert verdicts(good) == ["met", "met", "met", "met", "reported", "met"]
    assert "1,700 / 4,200 images/s" in good
    assert "1.90; 1.90, 1.90; 1.65 (p50 1.50 ms, p99 3.00)" in good  # the page's: 1.65
    assert "400 / 800 / 1600 requests/s (busy 1 / 2 / 1), 0 errors" in good
    bad = summary(figures(ratio=2.1, speedup=6, max_bytes=41_000, errors=3, growth=0.12))
    assert verdicts(bad) == ["not met"] * 4 + ["reported", "not met"]
    assert "9 errors" in bad


def test_busy_workers_counts_those_that_did_a_share() -> None:
    """Several uvicorn workers share one listening socket, and whichever wakes first takes
    every connection waiting: 16 clients that connect at once often all land on one."""
    before = {10: 1.0, 11: 2.0, 12: 0.5, 13: 0.0}
    assert busy_workers(before, {10: 6.0, 11: 2.1, 12: 0.5, 13: 0.0}) == 1
    assert busy_workers(before, {10: 6.0, 11: 6.5, 12: 1.0, 13: 0.0}) == 3
    assert busy_workers({}, {1: 0.0}) == 0
