"""A batch's answer that its client does not read keeps its place in the batch gate: the
bound of FEATUREMAPS_MAX_BATCH_INFLIGHT batches is what the server holds in memory, and a
client that stops reading is cut off (a robustness review: eight clients that never read
held six answers of 312 MB at once, with no batch in flight)."""

from __future__ import annotations

import asyncio
import io
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import numpy as np
import pytest
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.types import Message

from app import upgrades
from app.api.middleware import CUT_OFF
from app.api.routes import batch as route
from tests.api.test_batch import npy
from tests.api.test_shutdown import start_server, stop

PATH = "/api/v1/featuremaps/batch"


@pytest.fixture
def url() -> Iterator[str]:
    proc, base = start_server()
    try:
        yield base
    finally:
        stop(proc)


def images(n: int) -> bytes:
    """An .npy of `n` random 28x28 uint8 images."""
    return npy(np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8))


def batches_in_flight(url: str) -> float:
    line = next(line for line in httpx.get(f"{url}/metrics").text.splitlines()
                if line.startswith("featuremaps_inferences_in_flight{") and 'gate="batch"' in line)
    return float(line.rsplit(" ", 1)[1])


@pytest.mark.slow
def test_an_answer_not_read_keeps_its_batchs_place_until_the_client_leaves(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    body = images(400)  # every map: about 31 MB of answer, far more than the sockets buffer
    readers = []
    for _ in range(2):  # the gate's two places
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream"
                  f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        readers.append(s)
    try:
        for s in readers:  # each answer begun, then not read on
            assert s.recv(64).startswith(b"HTTP/1.1 200 "), "no answer began"
        time.sleep(0.5)
        assert batches_in_flight(url) == 2
        small = httpx.post(f"{url}{PATH}?layers=pool2", content=images(1),
                           headers={"Content-Type": "application/octet-stream"})
        assert small.status_code == 503, small.text
        assert small.json()["detail"].startswith("server busy: 2 batches already in flight")
    finally:
        for s in readers:
            s.close()
    # gone, their places are free (and the server keeps serving)
    deadline = time.monotonic() + 20
    while batches_in_flight(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert batches_in_flight(url) == 0
    small = httpx.post(f"{url}{PATH}?layers=pool2", content=images(1),
                       headers={"Content-Type": "application/octet-stream"})
    assert small.status_code == 200
    assert np.load(io.BytesIO(small.content))["max/pool2"].shape == (1, 64, 5, 5)


def counted(url: str, status: str) -> float:
    """Batch requests answered (or ended) with `status`, by the server's metrics."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in httpx.get(f"{url}/metrics").text
               .splitlines() if line.startswith("featuremaps_requests_total{")
               and f'status="{status}"' in line and "/featuremaps/batch" in line)


@pytest.mark.slow
def test_a_client_that_leaves_with_a_request_pipelined_behind_its_batch_is_a_499(
        url: str) -> None:
    """A review: uvicorn tells only the last request parsed that the client left; with a
    request pipelined behind the batch, its answer went on in pieces, and a write to the
    closed connection raised (uvloop), logged as a bug, a 500."""
    port = int(url.rsplit(":", 1)[1])
    body = images(400)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream"
                  f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
                  + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        got = 0
        while got < 2_000_000:
            got += len(s.recv(65536))
    deadline = time.monotonic() + 20
    while counted(url, "499") < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (counted(url, "499"), counted(url, "500")) == (1, 0)
    assert batches_in_flight(url) == 0


def sent_through(answer: route.HeldAnswer, send: Any, scope: dict[str, Any],
                 leaves_after: float | None = None) -> None:
    """`answer` sent with `send` to a client that stays, or leaves after `leaves_after` s."""
    async def receive() -> Message:
        if leaves_after is None:
            await asyncio.Event().wait()
        await asyncio.sleep(leaves_after or 0)
        return {"type": "http.disconnect"}

    asyncio.run(answer(scope, receive, send))


def test_an_answer_goes_in_pieces_and_frees_its_place_once_sent() -> None:
    released: list[bool] = []
    content = bytes(range(256)) * (4096 * 2 + 16)  # two pieces of 1 MiB and 4 kB
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    sent_through(route.HeldAnswer(content, lambda: released.append(True)), send, {})
    assert [m["type"] for m in sent] == ["http.response.start"] + ["http.response.body"] * 3
    assert [len(m["body"]) for m in sent[1:]] == [route.PIECE, route.PIECE, 4096]
    assert [m["more_body"] for m in sent[1:]] == [True, True, False]
    assert b"".join(m["body"] for m in sent[1:]) == content
    assert released == [True]
    # background tasks run once it is sent, as Starlette's Response runs them
    ran: list[int] = []
    answer = route.HeldAnswer(b"abc", lambda: released.append(True),
                              background=BackgroundTask(lambda: ran.append(len(sent))))
    sent.clear()
    sent_through(answer, send, {})
    assert ran == [2] and released == [True, True]
    released.pop()
    sent.clear()  # no body: one empty piece
    sent_through(route.HeldAnswer(b"", lambda: released.append(True)), send, {})
    assert [(m.get("body"), m.get("more_body")) for m in sent[1:]] == [(b"", False)]
    assert released == [True, True]


def test_a_client_that_stops_reading_is_cut_off_and_frees_its_place(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(route, "SEND_WAIT_S", 0.05)
    released: list[bool] = []
    cut: list[bool] = []
    pieces = 0

    async def send(message: Message) -> None:
        nonlocal pieces
        if message["type"] == "http.response.body":
            pieces += 1
            if pieces == 2:  # the client took the first piece, and no more
                await asyncio.sleep(10)

    with pytest.raises(ClientDisconnect):
        sent_through(route.HeldAnswer(b"x" * (3 * route.PIECE), lambda: released.append(True)),
                     send, {"extensions": {CUT_OFF: lambda: cut.append(True)}})
    assert (pieces, cut, released) == (2, [True], [True])


def test_a_client_that_leaves_mid_answer_ends_it_as_a_499_of_what_was_sent() -> None:
    """A robustness review: a client gone after 1 MB of 272 MB was logged as a 200 of all
    of it, the server taking the rest and dropping it."""
    released: list[bool] = []
    bodies: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            await asyncio.sleep(0.02)  # each piece taken in 20 ms

    with pytest.raises(ClientDisconnect):
        sent_through(route.HeldAnswer(b"x" * (50 * route.PIECE), lambda: released.append(True)),
                     send, {}, leaves_after=0.05)
    assert 1 <= len(bodies) < 10 and released == [True]


def test_the_cut_off_drops_only_an_answer_still_being_sent() -> None:
    """A review: called once the answer was complete, it would drop the connection's next
    request; the protocol and cycle are held weakly, and gone, nothing is done."""
    aborted: list[bool] = []

    class Transport:
        def abort(self) -> None:
            aborted.append(True)

    class Protocol:
        transport = Transport()

    class Cycle:
        response_complete = True
        disconnected = False

    cycle = Cycle()
    upgrades._cut_off(Protocol(), cycle)  # type: ignore[arg-type]
    upgrades._cut_off(None, cycle)
    assert not aborted and not cycle.disconnected
    cycle.response_complete = False
    upgrades._cut_off(Protocol(), cycle)  # type: ignore[arg-type]
    assert aborted == [True] and cycle.disconnected
