"""Backpressure: a bounded number of inferences in flight, each with a time limit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from app.api.errors import Overloaded, TimedOut

T = TypeVar("T")


class InferenceGate:
    """Runs inference in worker threads; beyond `limit` in flight, refuses with 503 at once.

    A request that runs past `timeout_s` is answered 503 while its thread finishes; the
    slot stays taken until the thread really ends, so the bound holds even then.
    """

    def __init__(self, limit: int, timeout_s: float) -> None:
        self.limit = limit
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._inflight = 0

    @property
    def inflight(self) -> int:
        return self._inflight

    def _release(self) -> None:
        with self._lock:
            self._inflight -= 1

    async def run(self, fn: Callable[..., T], *args: object, timeout_s: float | None = None) -> T:
        """fn(*args) in a worker thread, within the bound and the time limit (the gate's own
        unless timeout_s is given)."""
        limit_s = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            if self._inflight >= self.limit:
                raise Overloaded(f"server busy: {self.limit} inferences already in flight; "
                                 "retry after the time in Retry-After")
            self._inflight += 1

        def work() -> T:
            try:
                return fn(*args)
            finally:
                self._release()

        try:
            with anyio.fail_after(limit_s):
                return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        except TimeoutError as exc:
            raise TimedOut(f"inference took longer than {limit_s:g} s; "
                           "retry later") from exc
