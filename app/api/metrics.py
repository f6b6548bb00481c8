"""Request metrics in the Prometheus text format, per worker process (label `pid`).

Hand-written rather than prometheus_client: four series, no multiprocess directory to
manage, and the exposition format is a few lines of text.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable

from starlette.types import Scope

# "WS": one message on WS /api/v1/live, observed by that route (no middleware sees them)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "WS"})
# seconds; a live update takes about 1 ms in the server and /healthz well under one, so the
# first bounds split the millisecond
BUCKETS = (0.00025, 0.0005, 0.001, 0.0015, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
           1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        # each inference gate (live, batch): its requests in flight now, and its limit
        self.gates: dict[str, tuple[Callable[[], int], int]] = {}
        self.device = "unknown"

    @staticmethod
    def route_label(scope: Scope) -> str:
        """The matched route's path template (bounded cardinality), or 'other'.

        Starlette's router records the matched route in the scope it was handed."""
        route = scope.get("route")
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else "other"

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in METHODS:  # any string a client sends would be a new series
            method = "other"
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            self.buckets[route][bisect_left(BUCKETS, seconds)] += 1
            self.sums[route] += seconds
            self.counts[route] += 1

    def render(self) -> str:
        pid = os.getpid()
        lines = [
            "# HELP featuremaps_requests_total HTTP requests by method, route and status.",
            "# TYPE featuremaps_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(f'featuremaps_requests_total{{pid="{pid}",method="{method}",'
                             f'route="{route}",status="{status}"}} {n}')
            lines += ["# HELP featuremaps_request_seconds Request latency in seconds.",
                      "# TYPE featuremaps_request_seconds histogram"]
            for route in sorted(self.counts):
                cumulative = 0
                for bound, n in zip((*BUCKETS, float("inf")), self.buckets[route], strict=True):
                    cumulative += n
                    le = "+Inf" if bound == float("inf") else f"{bound:g}"
                    lines.append(f'featuremaps_request_seconds_bucket{{pid="{pid}",'
                                 f'route="{route}",le="{le}"}} {cumulative}')
                lines.append(f'featuremaps_request_seconds_sum{{pid="{pid}",route="{route}"}} '
                             f"{self.sums[route]:.6f}")
                lines.append(f'featuremaps_request_seconds_count{{pid="{pid}",route="{route}"}} '
                             f"{self.counts[route]}")
        lines += [
            "# HELP featuremaps_inferences_in_flight Inferences running or waiting for a "
            "thread, by gate (live: every request but batches).",
            "# TYPE featuremaps_inferences_in_flight gauge",
            *(f'featuremaps_inferences_in_flight{{pid="{pid}",gate="{gate}"}} {inflight()}'
              for gate, (inflight, _) in self.gates.items()),
            "# HELP featuremaps_inferences_limit Inferences in flight at which a gate answers "
            "503.",
            "# TYPE featuremaps_inferences_limit gauge",
            *(f'featuremaps_inferences_limit{{pid="{pid}",gate="{gate}"}} {limit}'
              for gate, (_, limit) in self.gates.items()),
            "# HELP featuremaps_device_info The compute device in use.",
            "# TYPE featuremaps_device_info gauge",
            f'featuremaps_device_info{{pid="{pid}",device="{self.device}"}} 1',
        ]
        return "\n".join(lines) + "\n"
