"""BodyLimitMiddleware's budget: the bytes of request bodies a worker reads or holds at once.

Found by a review: every route reads its whole body before its gate can refuse the request,
so 16 connections sending 32 MiB batch bodies slowly held 512 MB of the server's memory."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.api.middleware import BodyLimitMiddleware
from tests.conftest import run_async

BATCH = "/batch"


def scope(path: str, size: int | None) -> dict[str, Any]:
    headers = [(b"transfer-encoding", b"chunked")] if size is None else \
        [(b"content-length", str(size).encode())]
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


async def request(app: Any, path: str, size: int | None) -> tuple[int, dict[str, Any] | None]:
    """Send a body of `size` bytes (None: chunked, 10 bytes) to `app`. Returns the status
    and the JSON answer, if any."""
    chunks = [{"type": "http.request", "body": bytes(size or 10), "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope(path, size), receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if sent[0]["status"] == 503:  # a refusal says when to come back
        assert (b"retry-after", b"1") in sent[0]["headers"]
    return sent[0]["status"], json.loads(body) if body[:1] == b"{" else None


def reading_app(hold: dict[str, asyncio.Event]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        event = hold.get(scope["path"])
        if event is not None:
            await event.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


def test_bodies_past_the_budget_are_refused_until_the_held_ones_are_done() -> None:
    async def scenario() -> list[Any]:
        hold = {"/slow": asyncio.Event()}
        app = BodyLimitMiddleware(reading_app(hold), limit=1000, overrides={BATCH: 5000},
                                  budgets={"": 1500, BATCH: 5000})
        out: list[Any] = []
        first = asyncio.create_task(request(app, "/slow", 1000))
        await asyncio.sleep(0.01)  # it has read its body and is held
        assert app.held == {"": 1000, BATCH: 0}
        out.append(await request(app, "/fast", 400))  # 1,400 of 1,500: read
        out.append(await request(app, "/fast", 600))  # 1,600: refused
        out.append(await request(app, "/fast", None))  # chunked: may reach 1,000
        out.append(await request(app, BATCH, 5000))  # a budget of its own
        hold["/slow"].set()
        out.append(await first)
        assert app.held == {"": 0, BATCH: 0}
        out.append(await request(app, "/fast", 1000))  # all of it again
        return out

    fast, refused, chunked, batch, slow, again = run_async(scenario())
    assert fast == (200, None) and batch == (200, None) and slow == (200, None)
    assert again == (200, None)
    assert refused == (503, {"detail": "server busy: 1,000 bytes of request bodies are being "
                                       "read or held, and this one's 600 would pass 1,500; "
                                       "retry after the time in Retry-After"})
    assert chunked == (503, {"detail": "server busy: 1,000 bytes of request bodies are being "
                                       "read or held, and this one's 1,000 would pass 1,500; "
                                       "retry after the time in Retry-After"})


def test_one_body_at_the_limit_is_always_read() -> None:
    """A budget smaller than the upload limit (a setting's choice) still lets one through."""
    async def scenario() -> tuple[int, Any]:
        app = BodyLimitMiddleware(reading_app({}), limit=1000, budgets={"": 10})
        return await request(app, "/any", 1000)

    assert run_async(scenario()) == (200, None)
