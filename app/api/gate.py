"""Backpressure: inference runs on a fixed set of threads, behind a bounded queue.

Requests beyond `limit` waiting or running are refused at once with 503 + Retry-After
rather than queued without bound; every request has a time limit covering its wait and
its run. The gate owns its `concurrency` threads (times torch's intra-op threads, times
workers, is how many cores inference can use at once: app/config.py), and always the same
ones: the allocator's per-thread arenas and torch's thread-local state stay
warm instead of spreading over a shared pool.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from app.api.errors import Overloaded, TimedOut
from app.ml.names import counted

T = TypeVar("T")
RECENT = 8  # jobs whose run times give a 503's Retry-After


def busy(limit: int, what: str = "inference") -> str:
    """The 503's words when `limit` inferences (or batches: `what` is said in the singular)
    are in flight (the OpenAPI document quotes them)."""
    return (f"server busy: {counted(limit, what)} already in flight; retry after the time in "
            "Retry-After")


class InferenceGate:
    """A request that times out is answered 503 while its thread finishes; its slot stays
    taken until the thread really ends, so the bound holds even then. A job that times out
    before a thread picked it up never runs."""

    def __init__(self, limit: int, timeout_s: float, concurrency: int = 1,
                 what: str = "inference",
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.limit = limit
        self.what = what  # what its 503 says is in flight (found by a review: batches were
        # called inferences)
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(max_workers=concurrency,
                                        thread_name_prefix="featuremaps-inference")
        self._lock = threading.Lock()
        self._inflight = 0
        self._clock = clock
        self._took: deque[float] = deque(maxlen=RECENT)  # the last jobs' run times, s
        # when each job running now started (time.perf_counter: `clock` times the runs)
        self._running: dict[object, float] = {}

    def retry_after(self, unknown: float = 1.0) -> int:
        """Seconds a refused request should wait: the jobs in flight, run `concurrency` at a
        time, each taking the median run time of the last jobs, but no longer than the time
        limit and one job more (a job still waiting then is dropped); rounded up, at least 1
        (a review: batches that took 5-9 s each said 1; a later one: 64 queued /shifts jobs
        of 0.26 s said 1; a review of that: jobs past the limit made it 1,600 s). `unknown`:
        what it is while no job has finished. A job running longer than that is taken to run
        as long again: the first of them frees its thread then (an API review: two batches of
        10,000 images running for seconds said 1, after a few small ones)."""
        with self._lock:
            took = list(self._took)
            rounds = max(1, math.ceil(self._inflight / self.concurrency))
            started = list(self._running.values())
        each = statistics.median(took) if took else unknown
        now = time.perf_counter()
        # what is left of the median, or, past it, as long again (a review: max() of the two
        # said the whole median again to a request refused just before a job's usual end)
        first = min((each - (now - t) if now - t < each else now - t for t in started),
                    default=each)
        return max(1, math.ceil(min(first + each * (rounds - 1), self.timeout_s + each)))

    def _timed(self, fn: Callable[..., T], *args: object) -> T:
        job = object()
        with self._lock:
            self._running[job] = time.perf_counter()
        start = self._clock()
        try:
            return fn(*args)
        finally:
            took = self._clock() - start
            with self._lock:
                self._inflight -= 1
                self._took.append(took)
                del self._running[job]

    @property
    def inflight(self) -> int:
        """Inferences waiting for a thread or running."""
        return self._inflight

    def close(self) -> None:
        """Stop the threads; jobs still queued are dropped (their requests are gone)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: object, timeout_s: float | None = None,
                  inline_when_idle: bool = False) -> T:
        """fn(*args) on an inference thread, within the bound and the time limit (the gate's
        own unless timeout_s is given).

        inline_when_idle: for short, fixed-size jobs (one live update, about a millisecond).
        When nothing else is in flight the job runs at once on the event loop's thread, which
        saves two thread hand-offs; it still counts as in flight. Under load it queues for an
        inference thread like any other job, with its time limit."""
        limit_s = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            full = self._inflight >= self.limit
            inline = inline_when_idle and self._inflight == 0
            if not full:
                self._inflight += 1
        if full:
            raise Overloaded(busy(self.limit, self.what), self.retry_after())
        if inline:
            return self._timed(fn, *args)
        state = ["pending"]  # -> "running" when a thread takes it, or "abandoned" on timeout

        def work() -> T:
            with self._lock:
                if state[0] == "abandoned":
                    raise TimedOut("abandoned before it started")
                state[0] = "running"
            return self._timed(fn, *args)

        future = asyncio.get_running_loop().run_in_executor(self._pool, work)
        try:
            return await asyncio.wait_for(asyncio.shield(future), limit_s)
        except TimeoutError as exc:
            with self._lock:
                waited = state[0] == "pending"
                if waited:
                    state[0] = "abandoned"
                    self._inflight -= 1
                ahead = self._inflight
            future.add_done_callback(lambda f: f.exception())  # no "never retrieved" warning
            # which of the two (an API review: a job that never left the queue was said to
            # have taken too long)
            said = (f"waited {limit_s:g} s for a thread, with {counted(ahead, self.what)} in "
                    "flight, and never started" if waited
                    else f"{self.what} took longer than {limit_s:g} s")
            # before any job has finished, the one that ran past the limit (or that this one
            # waited behind) has taken the limit at least: not 1 s
            raise TimedOut(f"{said}; retry after the time in Retry-After",
                           self.retry_after(unknown=limit_s)) from exc
