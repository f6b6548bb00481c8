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
import heapq
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from app.api.errors import RETRY_WORDS, Overloaded, TimedOut
from app.ml.names import counted

T = TypeVar("T")
RECENT = 8  # jobs whose run times give a 503's Retry-After
KINDS = 16  # kinds of sized job (weigh) whose times a unit are kept apart, the latest used


def busy(limit: int, what: str = "inference") -> str:
    """The 503's words when `limit` inferences (or batches: `what` is said in the singular)
    are in flight (the OpenAPI document quotes them)."""
    return f"server busy: {counted(limit, what)} already in flight; {RETRY_WORDS}"


@dataclass(slots=True)
class _Job:
    """A job in flight, for Retry-After."""
    size: float | None = None  # None until told (weigh)
    start: float | None = None  # time.perf_counter() once running (`clock` times the runs)
    kind: Hashable = None


class InferenceGate:
    """A request that times out is answered 503 while its thread finishes; its slot stays
    taken until the thread really ends, so the bound holds even then. A job that times out
    before a thread picked it up never runs."""

    def __init__(self, limit: int, timeout_s: float, concurrency: int = 1,
                 what: str = "inference",
                 clock: Callable[[], float] = time.perf_counter,
                 per_unit: float | None = None) -> None:
        """per_unit: the seconds a unit of a sized job (weigh) is taken to need until one
        has finished (the batch route's: an image's, timed at start-up)."""
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
        # ... and of those whose size was told (weigh), the seconds each unit took: of any
        # kind, and kept apart by kind (an API review: pool2 alone takes a third of every
        # map's time an image, preprocess=true half as much again)
        self._per_unit: deque[float] = deque(maxlen=RECENT)
        self._by_kind: dict[Hashable, deque[float]] = {}
        self._prior = per_unit
        self._jobs: dict[object, _Job] = {}  # by the token run() made for it
        self._kept: list[float] = []  # when each place kept after its job (keep=True) was
        self._local = threading.local()  # the job a thread runs, for weigh()

    def retry_after(self, unknown: float = 1.0) -> int:
        """Seconds a refused request should wait: until the jobs in flight are done, run
        `concurrency` at a time, each taking the median run time of the last jobs, or, where
        its size was told (weigh), that many units at the median time a unit took; but no
        longer than the time limit and one job more (a job still waiting then is dropped);
        rounded up, at least 1 (a review: batches that took 5-9 s each said 1; a later one: 64
        queued /shifts jobs of 0.26 s said 1; a review of that: jobs past the limit made it
        1,600 s; an API review: a batch of 10,000 images just begun said 1, after a few small
        ones). A sized job's unit takes the median of its kind's recent units, else of any
        kind's, else what the gate was told at its start (a review: the first batches after
        start said 1, as none had finished). With nothing in flight, the median. `unknown`:
        what an unsized job takes while no job has finished. A job running longer than its
        time is taken to run as long again: the first of them frees its thread then (an API
        review: two batches of 10,000 images running for seconds said 1, after a few small
        ones)."""
        with self._lock:
            took = list(self._took)
            jobs = [(j.size, j.start, None if j.size is None else self._rate(j.kind))
                    for j in self._jobs.values()]
            kept = list(self._kept)
        each = statistics.median(took) if took else unknown
        # each job's time, and when it started
        timed = [(each if size is None or rate is None else size * rate, start)
                 for size, start, rate in jobs]
        now = time.perf_counter()
        # what is left of a running job's time, or, past it, as long again (a review: max() of
        # the two said the whole time again to a request refused just before a job's end)
        left = [t - (now - start) if now - start < t else now - start
                for t, start in timed if start is not None]
        # when each thread is free: a heap (a review: idle threads put last were not popped
        # first, and a job waiting for one was laid after the running one)
        free = [0.0] * (self.concurrency - len(left)) + sorted(left)[:self.concurrency]
        for t, start in timed:
            if start is None:  # waiting: it takes the thread that frees first
                heapq.heappush(free, heapq.heappop(free) + t)
        done = max(free) if jobs else each
        longest = max((t for t, _ in timed), default=each)
        done = min(done, self.timeout_s + longest)
        # a place kept after its job (an answer being sent) frees as its client takes the
        # answer, which no time limit bounds: taken to last as long again as it has (a
        # review: two answers unread for minutes said the median batch's 2 s)
        if kept:
            done = max(done, *(now - since for since in kept))
        return max(1, math.ceil(done))

    def _rate(self, kind: Hashable) -> float | None:
        """Seconds a unit of a sized job of this kind is taken to need (under the lock)."""
        recent = self._by_kind.get(kind) or self._per_unit
        return statistics.median(recent) if recent else self._prior

    def weigh(self, size: float, kind: Hashable = None) -> None:
        """The job this thread runs is `size` units of work (a batch's images) of a `kind`
        (a batch's: its networks, layers, preprocess= and encoding=), told once it has begun
        and knows it: its time, and the Retry-After of a request refused meanwhile, are
        reckoned by the unit of its kind."""
        job = getattr(self._local, "job", None)
        with self._lock:
            if job in self._jobs:
                self._jobs[job].size, self._jobs[job].kind = size, kind

    def _timed(self, fn: Callable[..., T], job: object, *args: object,
               state: list[str] | None = None) -> T:
        """fn(*args) as `job`, timed; its place freed as it ends, but where its `state` (a
        job run with keep=True) says its caller is still waiting for it: then "kept"."""
        with self._lock:
            self._jobs[job].start = time.perf_counter()
        self._local.job = job
        start = self._clock()
        done = False
        try:
            result = fn(*args)
            done = True
            return result
        finally:
            took = self._clock() - start
            self._local.job = None
            with self._lock:
                if done and state is not None and state[0] == "running":
                    state[0] = "kept"  # its caller frees its place (release)
                    self._kept.append(time.perf_counter())
                else:
                    self._inflight -= 1
                ended = self._jobs.pop(job)
                # a job refused or stopped on the way (a batch's 422 takes microseconds) says
                # nothing of what a job takes (a review: three refused batches of 5,000 made the
                # per-image median a refusal's, and Retry-After 1 again)
                if done:
                    self._took.append(took)
                    if ended.size:
                        self._per_unit.append(took / ended.size)
                        self._of_kind(ended.kind).append(took / ended.size)

    def _of_kind(self, kind: Hashable) -> deque[float]:
        """The recent times a unit of this kind, made the latest kind used; the kind used
        longest ago is forgotten beyond KINDS (under the lock)."""
        recent = self._by_kind.pop(kind, None)
        if recent is None:
            recent = deque(maxlen=RECENT)
            if len(self._by_kind) >= KINDS:
                del self._by_kind[next(iter(self._by_kind))]
        self._by_kind[kind] = recent
        return recent

    def _let_go(self, state: list[str], job: object) -> None:
        """The caller of a job no longer waits for it (its time limit, or a kept job's
        caller cancelled): a job not begun never runs, one running frees its place as it
        ends, one kept as it ended (just then) frees it now (under the lock)."""
        if state[0] == "pending":
            state[0] = "abandoned"
            self._inflight -= 1
            del self._jobs[job]
        elif state[0] == "kept":
            self._inflight -= 1
            self._kept.pop()  # kept just then
        elif state[0] == "running":
            state[0] = "gone"

    def release(self) -> None:
        """Free the place of a job run with keep=True, which it kept after it ended (the
        places are alike: the one kept longest is taken to be freed)."""
        with self._lock:
            self._inflight -= 1
            self._kept.pop(0)

    @property
    def inflight(self) -> int:
        """Inferences waiting for a thread or running, and places kept after their job
        (keep=True) until released."""
        return self._inflight

    def close(self) -> None:
        """Stop the threads; jobs still queued are dropped (their requests are gone)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: object, timeout_s: float | None = None,
                  inline_when_idle: bool = False, keep: bool = False) -> T:
        """fn(*args) on an inference thread, within the bound and the time limit (the gate's
        own unless timeout_s is given).

        keep: a job that ends well keeps its place after it, still counted in flight, until
        its caller, given its result, calls `release` (the batch route's: until its answer
        is sent, as the answer is what the bound holds in memory). A job whose caller
        stopped waiting (its time limit, a cancellation) frees its place as it ends.

        inline_when_idle: for short, fixed-size jobs (one live update, about a millisecond).
        When nothing else is in flight the job runs at once on the event loop's thread, which
        saves two thread hand-offs; it still counts as in flight. Under load it queues for an
        inference thread like any other job, with its time limit."""
        limit_s = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            full = self._inflight >= self.limit
            inline = inline_when_idle and self._inflight == 0
            job = object()
            if not full:
                self._inflight += 1
                self._jobs[job] = _Job()
        if full:
            raise Overloaded(busy(self.limit, self.what), self.retry_after())
        if inline:
            assert not keep, "a kept place is for a job on a thread"
            return self._timed(fn, job, *args)
        # -> "running" when a thread takes it, or "abandoned" on timeout; with keep, "kept"
        # when it ends well while its caller waits, or "gone" where the caller stopped
        state = ["pending"]

        def work() -> T:
            with self._lock:
                if state[0] == "abandoned":
                    raise TimedOut("abandoned before it started")
                state[0] = "running"
            return self._timed(fn, job, *args, state=state if keep else None)

        queued = time.perf_counter()
        future = asyncio.get_running_loop().run_in_executor(self._pool, work)
        try:
            return await asyncio.wait_for(asyncio.shield(future), limit_s)
        except asyncio.CancelledError:
            if keep:
                with self._lock:
                    self._let_go(state, job)
            raise
        except TimeoutError as exc:
            with self._lock:
                waited = state[0] == "pending"
                started = None if waited or job not in self._jobs else self._jobs[job].start
                self._let_go(state, job)
                ahead = self._inflight
            future.add_done_callback(lambda f: f.exception())  # no "never retrieved" warning
            # which of the two (an API review: a job that never left the queue was said to
            # have taken too long), and for one that ran, how the limit was spent (a later
            # review: one that waited 0.85 s of 1 s for a thread was said to have taken 1 s)
            if waited:
                said = (f"waited {limit_s:g} s for a thread, with {counted(ahead, self.what)} "
                        "in flight, and never started")
            elif started is None:
                said = f"{self.what} took longer than {limit_s:g} s"
            else:
                said = (f"{self.what} did not end within the {limit_s:g} s limit: it waited "
                        f"{started - queued:.2f} s for a thread, then ran "
                        f"{time.perf_counter() - started:.2f} s")
            # before any job has finished, the one that ran past the limit (or that this one
            # waited behind) has taken the limit at least: not 1 s
            raise TimedOut(f"{said}; {RETRY_WORDS}",
                           self.retry_after(unknown=limit_s)) from exc
