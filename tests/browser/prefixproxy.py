"""A reverse proxy that serves the app under a path of its own, as nginx's
`location /featuremaps/ { proxy_pass http://app/; }` does: the prefix is taken off each
request's path, and everything else passes through, WebSocket upgrades included. A request
for the bare prefix is redirected to it with a slash, its query kept, as nginx does. (The
nginx block of docs/production.md was checked by hand the same way: the page over the
socket and over POST, /docs' Try it out, a 9 MB batch, and the server's redirects put back
under the prefix by its proxy_redirect.)

It handles one request per connection (it asks the server to close after each answer), so
it only ever rewrites a connection's first request line. For tests, on loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def rewrite(head: bytes, prefix: bytes) -> bytes | None:
    """The request head for the server, or None when its path is outside the prefix."""
    line, _, fields = head.partition(b"\r\n")
    method, target, version = line.split(b" ", 2)
    if not target.startswith(prefix + b"/"):
        return None
    upgrade = b"\r\nupgrade:" in (b"\r\n" + fields).lower()
    kept = [f for f in fields.split(b"\r\n")
            if f and (upgrade or not f.lower().startswith(b"connection:"))]
    if not upgrade:
        kept.append(b"Connection: close")
    return b" ".join((method, target[len(prefix):], version)) + b"\r\n" + \
        b"\r\n".join(kept) + b"\r\n\r\n"


@contextlib.contextmanager
def prefix_proxy(upstream_port: int, prefix: str = "/featuremaps") -> Iterator[str]:
    """Yields the proxy's base URL (http://127.0.0.1:PORT/featuremaps/)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, asyncio.base_events.Server] = {}

    tasks: set[asyncio.Task[None]] = set()

    async def answer(writer: asyncio.StreamWriter, status: bytes, extra: bytes = b"") -> None:
        writer.write(b"HTTP/1.1 " + status + b"\r\n" + extra +
                     b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        up_writer: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1]
            forwarded = rewrite(head, prefix.encode())
            path, mark, query = target.partition(b"?")
            if path == prefix.encode():  # as nginx: the slash added, the query kept
                await answer(writer, b"301 Moved Permanently",
                             b"Location: " + path + b"/" + mark + query + b"\r\n")
            elif forwarded is None:
                await answer(writer, b"404 Not Found")
            else:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
                up_writer.write(forwarded)
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    w.close()
            tasks.discard(task)

    async def start() -> None:
        box["server"] = await asyncio.start_server(handle, "127.0.0.1", 0)
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()),
                                              loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    port = box["server"].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}{prefix}/"
    finally:
        async def stop() -> None:
            box["server"].close()
            for task in list(tasks):  # connections the browser left open (its live socket)
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await box["server"].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
