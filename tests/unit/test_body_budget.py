"""BodyLimitMiddleware's budget: the bytes of request bodies a worker reads or holds at once.

Found by a review: every route reads its whole body before its gate can refuse the request,
so 16 connections sending 32 MiB batch bodies slowly held 512 MB of the server's memory.
A review of the first fix found it reserved each body's declared size before any of it
came: 64 connections that declared 2 MiB and sent nothing had every upload refused."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message

from app.api.middleware import BodyLimitMiddleware
from tests.conftest import run_async

BATCH = "/batch"


async def request(app: Any, path: str, size: int, chunked: bool = False,
                  arrives: asyncio.Event | None = None,
                  wait: bytes = b"1") -> tuple[int, dict[str, Any] | None]:
    """Send a body of `size` bytes to `app` (declared, or chunked), once `arrives` is set if
    given. Returns the status and the JSON answer, if any; a 503 must say Retry-After
    `wait`."""
    headers = [(b"transfer-encoding", b"chunked")] if chunked else \
        [(b"content-length", str(size).encode())]
    chunks = [{"type": "http.request", "body": bytes(size), "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if arrives is not None:
            await arrives.wait()
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": path, "headers": headers},
              receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if sent[0]["status"] == 503:  # a refusal says when to come back
        assert (b"retry-after", wait) in sent[0]["headers"]
    return sent[0]["status"], json.loads(body) if body[:1] == b"{" else None


def reading_app(hold: dict[str, asyncio.Event]) -> Any:
    """Reads the whole body, then waits for hold[path], if any, before answering 200."""
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        event = hold.get(scope["path"])
        if event is not None:
            await event.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


def busy(others: int, more: int, budget: int) -> tuple[int, dict[str, str]]:
    return 503, {"detail": f"server busy: {others:,} bytes of other request bodies are being "
                           f"read or held, and {more:,} more of this one would pass {budget:,}; "
                           "retry after the time in Retry-After"}


def test_bodies_count_as_they_arrive_until_their_request_ends() -> None:
    async def scenario() -> list[Any]:
        hold = {"/slow": asyncio.Event()}
        app = BodyLimitMiddleware(reading_app(hold), limit=100_000, overrides={BATCH: 500_000},
                                  budgets={"": 150_000, BATCH: 500_000})
        out: list[Any] = []
        # declared, not yet sent: it holds nothing
        idle = asyncio.Event()
        waiting = asyncio.create_task(request(app, "/idle", 100_000, arrives=idle))
        first = asyncio.create_task(request(app, "/slow", 100_000))
        await asyncio.sleep(0.01)  # it has read its body and is held
        assert app.held == {"": 100_000, BATCH: 0}
        out.append(await request(app, "/fast", 40_000))  # 140,000 of 150,000: read
        out.append(await request(app, "/fast", 66_000))  # 166,000: refused
        out.append(await request(app, "/fast", 66_000, chunked=True))  # the same, chunked
        out.append(await request(app, BATCH, 500_000))  # a budget of its own
        idle.set()  # its 100,000 now come, with 100,000 held: refused
        out.append(await waiting)
        hold["/slow"].set()
        out.append(await first)
        assert app.held == {"": 0, BATCH: 0}
        out.append(await request(app, "/fast", 100_000))  # all of it again
        return out

    fast, refused, chunked, batch, late, slow, again = run_async(scenario())
    assert fast == batch == slow == again == (200, None)
    assert refused == chunked == busy(100_000, 66_000, 150_000)
    assert late == busy(100_000, 100_000, 150_000)


def test_small_bodies_are_read_whatever_large_ones_hold() -> None:
    """Found by a review: 64 slow uploads of 2 MiB less a byte held the budget and every
    upload was refused, live updates (about 13 kB) too. A body's first 64 KiB are read."""
    async def scenario() -> list[Any]:
        hold = {"/slow": asyncio.Event()}
        app = BodyLimitMiddleware(reading_app(hold), limit=200_000, budgets={"": 100_000})
        first = asyncio.create_task(request(app, "/slow", 100_000))
        await asyncio.sleep(0.01)
        out = [await request(app, "/live", 13_000), await request(app, "/live", 65_536),
               await request(app, "/big", 65_537)]
        hold["/slow"].set()
        out.append(await first)
        return out

    live, edge, big, slow = run_async(scenario())
    assert live == edge == slow == (200, None)
    assert big == busy(100_000, 65_537, 100_000)


def test_a_budget_full_says_its_gates_wait() -> None:
    """An API review: a batch refused here was told Retry-After 1 while the batches ahead of
    it ran 30 s, and their gate told a small batch 16 s. Each budget's 503 says what its
    gate would (`retry_after`, asked at the refusal); 1 where none is given."""
    asked: list[str] = []

    def gate_says() -> int:
        asked.append("batch")
        return 16

    async def scenario() -> list[Any]:
        hold = {BATCH: asyncio.Event(), "/slow": asyncio.Event()}
        app = BodyLimitMiddleware(reading_app(hold), limit=100_000,
                                  overrides={BATCH: 500_000},
                                  budgets={"": 100_000, BATCH: 500_000},
                                  retry_after={BATCH: gate_says})
        first = asyncio.create_task(request(app, BATCH, 500_000))
        slow = asyncio.create_task(request(app, "/slow", 100_000))
        await asyncio.sleep(0.01)
        assert asked == []  # asked only at a refusal
        out = [await request(app, BATCH, 100_000, wait=b"16"),
               await request(app, "/other", 100_000, wait=b"1")]
        hold[BATCH].set()
        hold["/slow"].set()
        return [*out, await first, await slow]

    batch, other, first, slow = run_async(scenario())
    assert batch == busy(500_000, 100_000, 500_000)
    assert other == busy(100_000, 100_000, 100_000)
    assert first == slow == (200, None)
    assert asked == ["batch"]


def test_one_body_at_the_limit_is_always_read() -> None:
    """A budget smaller than the upload limit (a setting's choice) still lets one through."""
    async def scenario() -> tuple[int, Any]:
        app = BodyLimitMiddleware(reading_app({}), limit=1000, budgets={"": 10})
        return await request(app, "/any", 1000)

    assert run_async(scenario()) == (200, None)


async def stalled(app: Any, path: str, declared: int | None, first: int
                  ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
    """Send `first` bytes of a body (of `declared` size, or chunked), then nothing more."""
    headers = [(b"transfer-encoding", b"chunked")] if declared is None else \
        [(b"content-length", str(declared).encode())]
    chunks = [{"type": "http.request", "body": bytes(first), "more_body": True}]
    never = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop(0)
        await never.wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": path, "headers": headers},
              receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), sent[0]["headers"]


def test_a_stalled_upload_is_answered_408_and_gives_its_budget_back() -> None:
    """Found carried over from a review: an upload that sent most of its body and stopped
    held its share of the budget for as long as its client kept the connection open."""
    async def scenario() -> list[Any]:
        app = BodyLimitMiddleware(reading_app({}), limit=200_000, budgets={"": 150_000},
                                  timeout=0.2)
        out: list[Any] = []
        stall = asyncio.create_task(stalled(app, "/slow", 200_000, 140_000))
        await asyncio.sleep(0.05)
        assert app.held == {"": 140_000}
        out.append(await request(app, "/big", 70_000))  # would pass the budget: 503
        out.append(await asyncio.wait_for(stall, 5))  # not left waiting
        assert app.held == {"": 0}
        out.append(await request(app, "/big", 70_000))  # now read
        # no declared size: timed
        out.append(await asyncio.wait_for(stalled(app, "/chunked", None, 1_000), 5))
        return out

    refused, timed_out, again, chunked = run_async(scenario())
    assert refused == busy(140_000, 70_000, 150_000)
    status, detail, headers = timed_out
    assert (status, detail) == (408, {"detail": "request body not received within 0.2 s: 140,000 "
                                                "of 200,000 bytes came; send it again, faster "
                                                "(FEATUREMAPS_BODY_TIMEOUT_S)"})
    assert (b"connection", b"close") in headers  # the rest of the body is never read
    assert again == (200, None)
    assert chunked[:2] == (408, {"detail": "request body not received within 0.2 s: 1,000 bytes "
                                           "came; send it again, faster "
                                           "(FEATUREMAPS_BODY_TIMEOUT_S)"})


def test_bodies_within_the_first_64_kib_are_not_timed() -> None:
    """They are read whatever the budget holds, so they cannot lock others out, and the live
    update's body does not pay for a timer."""
    async def scenario() -> bool:
        app = BodyLimitMiddleware(reading_app({}), limit=200_000, budgets={"": 150_000},
                                  timeout=0.05)
        task = asyncio.create_task(stalled(app, "/live", 13_000, 1_000))
        await asyncio.sleep(0.3)
        pending = not task.done()
        task.cancel()
        return pending

    assert run_async(scenario())


def test_only_the_body_is_timed_not_what_the_route_waits_for_after_it() -> None:
    """Found by a review: the timer went on after the body was in, so a route that waits on
    receive() for its client to leave (the batch route's watcher, a file sent slowly) got a
    408's exception at the deadline; and a GET, with no body, was timed as one of unknown
    size."""
    async def scenario() -> list[Any]:
        seen: list[Any] = []

        def app_for(reads: int) -> Any:
            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                for _ in range(reads):
                    seen.append((await receive())["type"])
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"ok"})
            return app

        def late(messages: list[dict[str, Any]]) -> Any:
            async def receive() -> dict[str, Any]:
                if len(messages) == 1:  # the last: the client leaves, after the deadline
                    await asyncio.sleep(0.3)
                return messages.pop(0)
            return receive

        sent: list[Any] = []

        async def send(message: Message) -> None:
            sent.append(message)

        body = {"type": "http.request", "body": bytes(70_000), "more_body": False}
        gone = {"type": "http.disconnect"}
        post = BodyLimitMiddleware(app_for(2), limit=200_000, timeout=0.1)
        await post({"type": "http", "method": "POST", "path": "/batch",
                    "headers": [(b"content-length", b"70000")]}, late([body, gone]), send)
        get = BodyLimitMiddleware(app_for(1), limit=200_000, timeout=0.1)
        await get({"type": "http", "method": "GET", "path": "/file", "headers": []},
                  late([gone]), send)
        return [seen, [m["status"] for m in sent if m["type"] == "http.response.start"]]

    seen, statuses = run_async(scenario())
    assert seen == ["http.request", "http.disconnect", "http.disconnect"]
    assert statuses == [200, 200]
