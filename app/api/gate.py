"""Backpressure: inference runs on a fixed number of threads, behind a bounded queue.

Requests beyond `limit` waiting or running are refused at once with 503 + Retry-After
rather than queued without bound; every request has a time limit covering its wait and
its run. `concurrency` threads (times torch's intra-op threads, times workers) is what the
cores are divided into, so inference never oversubscribes them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from app.api.errors import Overloaded, TimedOut

T = TypeVar("T")


class InferenceGate:
    """A request that times out is answered 503 while its thread finishes; its slot stays
    taken until the thread really ends, so the bound holds even then."""

    def __init__(self, limit: int, timeout_s: float, concurrency: int = 1) -> None:
        self.limit = limit
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self._threads: anyio.CapacityLimiter | None = None
        self._lock = threading.Lock()
        self._inflight = 0

    @property
    def inflight(self) -> int:
        """Inferences waiting for a thread or running."""
        return self._inflight

    def _release(self) -> None:
        with self._lock:
            self._inflight -= 1

    async def run(self, fn: Callable[..., T], *args: object, timeout_s: float | None = None) -> T:
        """fn(*args) in an inference thread, within the bound and the time limit (the gate's
        own unless timeout_s is given)."""
        limit_s = self.timeout_s if timeout_s is None else timeout_s
        if self._threads is None:  # created lazily: it must belong to the running event loop
            self._threads = anyio.CapacityLimiter(self.concurrency)
        with self._lock:
            if self._inflight >= self.limit:
                raise Overloaded(f"server busy: {self.limit} inferences already in flight; "
                                 "retry after the time in Retry-After")
            self._inflight += 1
        # "pending" until a thread picks the job up; a job that times out while still pending
        # is "abandoned": its thread (if one ever starts it) does nothing.
        state = ["pending"]

        def work() -> T:
            with self._lock:
                if state[0] == "abandoned":
                    raise TimedOut("abandoned before it started")
                state[0] = "running"
            try:
                return fn(*args)
            finally:
                self._release()

        try:
            with anyio.fail_after(limit_s):
                return await anyio.to_thread.run_sync(work, abandon_on_cancel=True,
                                                      limiter=self._threads)
        except TimeoutError as exc:
            with self._lock:
                if state[0] == "pending":
                    state[0] = "abandoned"
                    self._inflight -= 1
            raise TimedOut(f"inference took longer than {limit_s:g} s; retry later") from exc
