"""uvicorn's HTTP protocol (httptools), with the upgrades it cannot serve answered, and bytes
that are not HTTP/1.1 answered with a JSON 400 (send_400_response), as every other 4xx is.

A request may ask to switch protocols (`Connection: Upgrade` and `Upgrade: ...`). The server
switches only a WebSocket's GET (the live socket, /api/v1/live). uvicorn, as of 0.54, went
wrong on two others (found by an API review):

- a POST with `Upgrade: websocket` was handed to the WebSocket protocol, which never
  answered: the client waited for good;
- any other upgrade with a body (`curl --http2` sends `Upgrade: h2c` to an http:// address)
  lost its body, as the parser stops at the headers of a request that upgrades: the app
  answered "empty body" to a good upload, and the body's bytes were then read as a request
  of their own on the same connection.

Here a WebSocket upgrade is taken for a GET alone, and a request with a body that asks for any
other upgrade is answered 400, saying why, before the app sees it: after the answers to the
requests before it on the connection, and closed gently, its body read and dropped for a
moment (closed at once with the body unread, the connection was reset, and a client could
lose the answer). A request without a body that asks for an upgrade is served as plain
HTTP/1.1, as RFC 9110 lets a server do, and its connection then closed: uvicorn's parser
reads nothing after it, and a request that followed on the connection went unanswered.

An answer the app gives before a body has all arrived (a 413 for a body declared over the
upload limit) closes its connection the same gentle way, where it closes it: a client that
sends its whole body before reading, as Python's urllib does, got a reset instead.

A WebSocket's GET is handed to uvicorn's sans-I/O WebSocket protocol (`JsonWebSocket` here),
which parses its head again with websockets' own limits and answers every refusal in plain
text. Found by an API review: a handshake with a line over 8 KiB (a long address, a large
Cookie) or over 128 headers, which the HTTP side takes, was refused into a buffer that was
never written, and the client waited for good with its connection held. websockets' limits
are raised to this module's (no head the HTTP side lets through reaches them), and any
refusal is a JSON `detail` with the headers every answer carries, written at once.
"""

from __future__ import annotations

import base64
import binascii
import http
import sys
import weakref
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets import http11
from websockets.datastructures import Headers

from app.api.errors import INTERNAL_ERROR, detail_body
from app.api.metrics import BELOW_APP
from app.api.middleware import CUT_OFF, answer_headers, request_id

LINGER_S = 1.0  # how long a refused request's connection reads and drops what follows
URL_LIMIT = 16 * 1024  # bytes of a request's target (the page's address with an input: 1.2 KiB)
HEAD_LIMIT = 64 * 1024  # bytes of a request's line and headers, counted as they arrive
# websockets reads these at each handshake (8 KiB and 128 by default, or its environment's
# WEBSOCKETS_MAX_LINE_LENGTH and _NUM_HEADERS): raised so that the HTTP side's limits above
# are the only ones (uvicorn writes the head again as `name: value`, a byte more a line than
# `_head_size` counts, and a header takes 4 bytes at the least)
http11.MAX_LINE_LENGTH = max(http11.MAX_LINE_LENGTH, 2 * HEAD_LIMIT)
http11.MAX_NUM_HEADERS = max(http11.MAX_NUM_HEADERS, HEAD_LIMIT // 4)
REFUSED_WORDS = "Failed to open a WebSocket connection: "  # how websockets' refusals begin


class Refused(Exception):
    """A request refused as its head is read (its target or headers past their limit, a head
    `head_problem` refuses): answered `status` with `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def refusal(method: str, upgrade: str) -> str:
    """What a request with a body that asks to switch to `upgrade` is told (a CONNECT names
    none)."""
    if upgrade.lower() == "websocket":
        return (f"a WebSocket opens with GET (GET /api/v1/live), not {method}: send the {method} "
                "without Connection: Upgrade and Upgrade: websocket")
    asked = f"Upgrade: {upgrade}" if upgrade else method
    return (f"{asked} is not served here (HTTP/1.1 only), and a request that asks for it loses "
            "its body: send it without Upgrade (curl: --http1.1, not --http2)")


def has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request of these `headers` (lower-case names) has a body: chunked, or a
    Content-Length over 0 (the parser refuses one that is not digits)."""
    for name, value in headers:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length" and value.strip().isdigit() and int(value) > 0:
            return True
    return False


def head_problem(headers: list[tuple[bytes, bytes]], http_version: str) -> str | None:
    """Why a request's head (`headers` with lower-case names) is refused before the app sees
    it, else None: a request over HTTP/1.1 names its Host once, as RFC 9112 (3.2) has a
    server refuse it otherwise, and any names it at most once; and one Content-Type says
    what the body is (an API review: none and two Hosts were served, and image/png then
    application/json read by the first, unsaid)."""
    hosts = _given(headers, b"host")
    if hosts > 1 or (hosts == 0 and http_version == "1.1"):
        return (f"the request names its Host {_times(hosts)}: name it once" if hosts else
                "a request over HTTP/1.1 names its Host (RFC 9112): this one names none")
    types = _given(headers, b"content-type")
    if types > 1:
        return f"Content-Type is given {_times(types)}: give it once, the type of the body"
    return None


def _given(headers: list[tuple[bytes, bytes]], name: bytes) -> int:
    """How many times `headers` (lower-case names) give `name`."""
    return sum(1 for given, _ in headers if given == name)


def _times(n: int) -> str:
    return "twice" if n == 2 else f"{n} times"


def handshake_problem(headers: list[tuple[bytes, bytes]], http_version: str
                      ) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
    """Why a WebSocket's GET (`headers` with lower-case names) cannot open one, as (status,
    detail, headers to add), else None. Checked here, as uvicorn's WebSocket protocol
    answers these in plain text, without the headers every answer carries (an API review),
    and took a handshake over HTTP/1.0."""
    said = dict(headers)
    # dict() kept the last (a review); Origin too (a later one: answered in plain text)
    for name in (b"sec-websocket-version", b"sec-websocket-key", b"origin"):
        if _given(headers, name) > 1:
            return 400, (f"{name.decode().title().replace('Websocket', 'WebSocket')} is given "
                         "more than once: a WebSocket's handshake gives it once"), []
    version = said.get(b"sec-websocket-version", b"").decode("latin-1").strip()
    if version != "13":
        asked = f"Sec-WebSocket-Version {version}" if version else "no Sec-WebSocket-Version"
        # a 426 names the protocol to switch to (RFC 9110, 15.5.22; an API review: it had
        # none), and a sender of Upgrade names it in Connection too (7.8; a review of that)
        return 426, (f"{asked}: this server speaks WebSocket version 13 (RFC 6455)"), [
            (b"upgrade", b"websocket"), (b"connection", b"upgrade"),
            (b"sec-websocket-version", b"13")]
    try:
        key = base64.b64decode(said.get(b"sec-websocket-key", b"").strip(), validate=True)
    except binascii.Error:
        key = b""
    if len(key) != 16:
        return 400, ("a WebSocket's handshake needs a Sec-WebSocket-Key of 16 random bytes "
                     "in base64 (RFC 6455)"), []
    if http_version != "1.1":
        return 400, f"a WebSocket opens over HTTP/1.1, not HTTP/{http_version}", []
    if has_body(headers):
        # websockets refuses one, and said only that it read no valid request (a review)
        return 400, ("a WebSocket's handshake is a GET without a body: send it without "
                     "Content-Length or Transfer-Encoding"), []
    return None


def _cut_off(protocol: UpgradeSafeHttp | None, cycle: Any) -> None:
    """The app ends an answer its client does not take (`CUT_OFF`): uvicorn is told the
    client left, so it sends nothing more and logs no answer left unfinished, and the
    connection is dropped with what it still held to send; not once the answer is complete,
    which would drop the connection's next request."""
    if protocol is None or cycle is None or cycle.response_complete:
        return
    cycle.disconnected = True
    protocol.transport.abort()


class _Lingering:
    """The transport a request's cycle answers on: the connection's own, but closed as a
    refused request's is (`UpgradeSafeHttp._close_after_answer`) where the body is still
    arriving."""

    def __init__(self, protocol: UpgradeSafeHttp) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        # what every answer calls, bound once: through __getattr__ a call cost 0.5 us more
        self.write = self._transport.write
        self.is_closing = self._transport.is_closing

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        self._protocol._close_after_answer()


class UpgradeSafeHttp(HttpToolsProtocol):
    """`featuremaps serve`'s HTTP protocol (uvicorn's `http` option)."""

    _refused: bytes | None = None  # the 4xx that answers a refused request, until it is written
    _draining = False  # a request was refused: what follows on the connection is dropped
    _in_head = False  # the parser is within a request's line and headers
    _began = False  # ... which began in the bytes being read
    _ended = False  # ... which ended in the bytes being read
    _in_message = False  # the parser is within a request, its head or after
    _fed = False  # the bytes being read held some of its body
    _completed = False  # ... or its end
    _head_bytes = 0  # the bytes of that head (and of its trailers) counted as they arrive
    _headed = 1 << 30  # its count of headers, once they are parsed: more are trailers

    _answering: Any = None  # the cycle whose app was started last: it may not be the last parsed

    def _should_upgrade(self) -> bool:
        return super()._should_upgrade() and self.parser.get_method() == b"GET"

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        self._answering = cycle
        super()._start_asgi_task(cycle, app)

    def connection_lost(self, exc: Exception | None) -> None:
        """uvicorn tells the request last parsed that its client left; where another was
        pipelined behind the one being answered, that one is told too (a review: a batch's
        answer went on in pieces, and on uvloop a write to the closed connection raised, a
        500 logged for a client that left)."""
        answering = self._answering
        if answering is not None and answering is not self.cycle \
                and not answering.response_complete:
            answering.disconnected = True
            answering.message_event.set()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Bytes read, parsed unless the connection is draining. A head that grows past
        HEAD_LIMIT (a header that never ends, a million of them) is answered 431: uvicorn's
        httptools protocol sets no bound, and held all it was sent (an API review: 84 MB
        for a header of 100 MB). A head that ends is measured as it ends, by its parsed
        line and headers (on_headers_complete, `_head_size`: the spaces around values are
        not counted, as the parser leaves them out); one still arriving, by its whole lines
        in the read it began in (where in that read it began is not known), then by every
        read after: one that never ends is refused at most one read (256 KiB) past the
        limit. So are a chunked body's trailers, which httptools reads as headers after the
        body: once the head is read, the reads of a request that carry none of its body
        count on from its size (a review: trailer lines sent without end were held, 100 MB
        a second), and any read of the request, one that carries some of its body too, by
        the head's parsed lines with the trailers parsed so far, if that is more."""
        if self._draining:
            return
        self._began = self._fed = self._ended = self._completed = False
        super().data_received(data)
        # refused or closed in this read (a review: a 414 was followed by a 431 for the same
        # target, written after the connection's end)
        if self._draining or self.transport.is_closing():
            return
        if self._began and not self._ended:
            self._head_bytes = self._head_size()  # what is known of it: its whole lines
        elif self._ended or self._in_head or self._in_message or self._completed:
            # a read of the head, the body or its trailers: one that carried none of the
            # body, nor the head's end (measured as it ended), nor the request's end (a
            # review: a chunked body's last 5 bytes, sent apart, made a head just under the
            # limit a 431), counts whole; and the trailers parsed so far, which httptools
            # reports as headers, added to the head's, count as parsed (a review: 66 to 150
            # KB of them sent in one write with the rest of the request were served)
            self._head_bytes += 0 if self._fed or self._ended or self._completed else len(data)
            if len(self.headers) > self._headed:  # trailers parsed
                self._head_bytes = max(self._head_bytes, self._head_size() + len(b"\r\n"))
        else:
            return
        if self._head_bytes <= HEAD_LIMIT:
            return
        trailers, self._in_head = not self._in_head, False
        answer = self._refusal("a request", 431, self._head_too_large(trailers))
        cycle = self.cycle
        if trailers and cycle is not None and not cycle.response_complete:
            # the app is reading this request's body, and would wait for its end for good:
            # it is told that the client left, and the 431 is the answer (or, where the app
            # has begun its own, the connection closes)
            cycle.disconnected = True
            cycle.message_event.set()
            self._draining = True
            if cycle.response_started:
                self.transport.close()
            else:
                self._refused = answer
                self._answer_refused()
            return
        self._refuse(answer)

    def on_message_begin(self) -> None:
        self._refused = None
        self._in_head = self._began = self._in_message = True
        self._ended = False
        self._head_bytes = 0
        self._headed = 1 << 30
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > URL_LIMIT:
            raise Refused(414, f"the request's target (its path and query) is over "
                                f"{URL_LIMIT // 1024} KiB: send the input in the body")
        super().on_url(url)

    def _head_size(self) -> int:
        """The bytes of the request's line and of the headers parsed so far, each whole,
        as few as the wire allows them (`Name:value`, no spaces around the value): never
        more than were sent (a review: counted with a space after each colon, and a blank
        line not yet sent, a head of 64 KiB split over reads was refused)."""
        line = len(self.parser.get_method()) + len(self.url) + len(b"  HTTP/1.1\r\n")
        return line + sum(len(name) + len(value) + len(b":\r\n") for name, value in self.headers)

    @staticmethod
    def _head_too_large(trailers: bool) -> str:
        said = "headers and trailers" if trailers else "line and headers"
        return f"the request's {said} are over {HEAD_LIMIT // 1024} KiB: send fewer or shorter ones"

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._ended = True
        # however its bytes came (an API review: 100 KB of headers in one write were served,
        # being all in the read the head began in, which the count above cannot measure);
        # a chunked body's trailers count on from it
        self._head_bytes = self._head_size() + len(b"\r\n")
        self._headed = len(self.headers)
        if self._head_bytes > HEAD_LIMIT:
            raise Refused(431, self._head_too_large(trailers=False))
        problem = head_problem(self.headers, self.parser.get_http_version())
        if problem is not None:
            raise Refused(400, problem)
        upgrading = self.parser.should_upgrade() and not self._should_upgrade()
        if upgrading and has_body(self.headers):
            method = self.parser.get_method().decode("ascii", "replace")
            upgrade = next((v for k, v in self.headers if k == b"upgrade"), b"")
            detail = refusal(method, upgrade.decode("latin-1").strip())
            self._refused = self._refusal("an upgrade", 400, detail)
            return  # the app never sees it
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = _Lingering(self)  # type: ignore[assignment]
            # weakly: the scope, which holds it, is the cycle's, and the cycle the protocol's
            protocol, cycle = weakref.ref(self), weakref.ref(self.cycle)
            extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
            extensions[CUT_OFF] = lambda: _cut_off(protocol(), cycle())
        if upgrading and self.cycle is not None:
            self.cycle.keep_alive = False  # nothing after it is read (above)

    def handle_websocket_upgrade(self) -> None:
        """A WebSocket's GET: handed to the WebSocket protocol where it can open one, else
        refused with a JSON detail (`handshake_problem`)."""
        problem = handshake_problem(self.headers, self.scope["http_version"])
        if problem is None:
            super().handle_websocket_upgrade()
            return
        status, detail, extra = problem
        self._refuse(self._refusal("a WebSocket handshake", status, detail, extra,
                                   kind="websocket"))

    def on_body(self, body: bytes) -> None:
        self._fed = True
        if self._refused is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        self._completed = True
        if self._refused is None:
            super().on_message_complete()

    def _unsupported_upgrade_warning(self) -> None:
        """Called where the parser stops at an upgrade that is not a WebSocket's GET."""
        if self._refused is None:  # no body: served, the upgrade ignored
            super()._unsupported_upgrade_warning()
            return
        self._refuse(self._refused)

    def _refuse(self, answer: bytes) -> None:
        """Answer the request being read with `answer` and read no more of the connection:
        at once, or once the requests before it on the connection are answered
        (on_response_complete)."""
        self._refused = answer
        self._draining = True
        if self.cycle is None or (self.cycle.response_complete and not self.pipeline):
            self._answer_refused()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if (self._draining and self._refused is not None and not self.transport.is_closing()
                and not self.pipeline and self.cycle is not None and self.cycle.response_complete):
            self._answer_refused()

    def _close_after_answer(self) -> None:
        """The app answered and the connection closes (`Connection: close`): where the
        request's body is still arriving, as when the app refused one declared over the
        upload limit without reading it (the 413), it closes as a refused request's does,
        the rest read and dropped for a moment. Closed at once with the body unread, the
        connection was reset, and a client that sends its whole body before it reads, as
        Python's urllib does, lost the 413 to "Connection reset by peer" (an API review:
        every time at 5 MB, 1 in 3 at 2.2 MB)."""
        if not self._in_message or self.transport.is_closing():
            self.transport.close()
            return
        self._draining = True
        # nor is a request read before the close answered: uvicorn would start the next in
        # line once this answer completes, and write after the end (a diff review)
        self.pipeline.clear()
        self.flow.resume_reading()  # uvicorn pauses reading while a body waits for the app
        self._linger()

    def _linger(self) -> None:
        """The client is told the answer is all (EOF); what it still sends is read and
        dropped (`_draining`) for LINGER_S, then the connection closes."""
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)

    def _answer_refused(self) -> None:
        answer, self._refused = self._refused, None
        assert answer is not None
        self.transport.write(answer)
        self._linger()  # the client sees the end; its body is still read

    def _refusal(self, what: str, status: int, detail: str,
                 extra: list[tuple[bytes, bytes]] | None = None, *,
                 kind: str = "http") -> bytes:
        """The answer to `what` ("a request") refused with `status` and `detail`, logged and
        counted in /metrics under `kind` ("http" or "websocket")."""
        self.logger.warning("Refused %s: %s", what, detail)
        BELOW_APP.refused(kind, status)
        return self._json_error(status, detail, extra)

    def _json_error(self, status: int, detail: str,
                    extra: list[tuple[bytes, bytes]] | None = None) -> bytes:
        """A `status` with a JSON `detail`, the server's default headers, what the app's
        answers all carry (the request id of the headers read, else a new one; the security
        headers: found by a review, these 400s had none), and the connection closed."""
        body = detail_body(detail)
        head = [STATUS_LINE[status]]
        for name, value in json_error_headers(self.server_state.default_headers, self.headers,
                                              len(body), extra):
            head += [name, b": ", value, b"\r\n"]
        return b"".join([*head, b"\r\n", body])

    def send_400_response(self, msg: str) -> None:
        """Bytes that are not HTTP/1.1: a JSON `detail` that says what the parser found, as
        every other 4xx (uvicorn's own is the plain text "Invalid HTTP request received.",
        which said nothing of why: a Content-Length of letters, a control character in a
        header). uvicorn calls this while it handles the parser's error."""
        error = sys.exception()
        if isinstance(error, httptools.HttpParserError) and isinstance(error.__context__, Refused):
            refused = error.__context__  # raised by on_url or on_headers_complete
            # (a handshake's head refused here is a handshake's refusal: counted as one)
            if self._get_upgrade() == b"websocket":
                answer = self._refusal("a WebSocket handshake", refused.status, str(refused),
                                       kind="websocket")
            else:
                answer = self._refusal("a request", refused.status, str(refused))
            self._refuse(answer)
            return
        reason = str(error) if isinstance(error, httptools.HttpParserError) and str(error) else msg
        BELOW_APP.refused("http", 400)
        self.transport.write(self._json_error(
            400, f"not a valid HTTP/1.1 request: {reason.rstrip('.')}"))
        self.transport.close()


def json_error_headers(default: list[tuple[bytes, bytes]], request: list[tuple[bytes, bytes]],
                       length: int, extra: list[tuple[bytes, bytes]] | None = None
                       ) -> list[tuple[bytes, bytes]]:
    """The headers of a JSON error written below the app: the server's `default` ones, the
    request id of the `request`'s headers (else a new one) with the security headers, `extra`,
    and the body's type and `length`, the connection closed: on one Connection line with any
    `extra` names (a 426's `upgrade`; an API review: two lines said upgrade, then close)."""
    extra = extra or []
    connection = b", ".join([*(v for k, v in extra if k == b"connection"), b"close"])
    return [*default, *answer_headers(request_id(request)),
            *((k, v) for k, v in extra if k != b"connection"),
            (b"content-type", b"application/json"), (b"content-length", b"%d" % length),
            (b"connection", connection)]


class JsonWebSocket(WebSocketsSansIOProtocol):
    """`featuremaps serve`'s WebSocket protocol (uvicorn's `ws` option): uvicorn's sans-I/O
    one, its handshake's refusals a JSON `detail` (websockets' `reject`, whose words are
    plain text), written and the connection closed even where websockets refuses the head
    as it parses it (uvicorn wrote only an accepted handshake's answer). `handshake_problem`
    words the refusals a client is likely to meet before this protocol is reached."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.reject = self._reject  # type: ignore[method-assign]

    def _reject(self, status: Any, text: str) -> http11.Response:
        """websockets' refusal (`status`, `text`) as a JSON answer: its first line's words,
        the rest being advice for a browser's address bar; and its Upgrade or Allow."""
        status = http.HTTPStatus(status)
        if status >= 500:  # uvicorn's answer to an app that raised (and logged it)
            detail = INTERNAL_ERROR  # as the app's own 500 says
        else:
            said = text.strip().splitlines()[0] if text.strip() else status.phrase
            said = said.removeprefix(REFUSED_WORDS).rstrip(".")
            self.logger.warning("Refused a WebSocket handshake: %s", said)
            if not self.handshake_initiated:  # websockets' refusal; after it, the app's
                BELOW_APP.refused("websocket", status.value)
            detail = f"the WebSocket handshake was refused: {said}"
        body = detail_body(detail)
        request = getattr(self, "request", None)
        asked = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                 for k, v in request.headers.raw_items()] if request is not None else []
        # websockets adds its 426's Upgrade after this; Connection names it (RFC 9110, 7.8)
        upgrade = [(b"connection", b"upgrade")] if status == http.HTTPStatus.UPGRADE_REQUIRED \
            else []
        headers = json_error_headers(self.default_headers, asked, len(body), upgrade)
        return http11.Response(status.value, status.phrase, Headers(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]), body)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.handshake_initiated or self.conn.handshake_exc is None:
            return
        # refused as websockets parsed the head: its answer (or its end alone, for a head it
        # could not read at all) waits in its buffer, which uvicorn never writes
        output = b"".join(self.conn.data_to_send())
        if not output:
            exc = self.conn.handshake_exc
            why = f"{exc}: {exc.__cause__}" if exc.__cause__ else f"{exc}"
            output = self._reject(http.HTTPStatus.BAD_REQUEST, why).serialize()
        self.handshake_initiated = self.handshake_complete = self.close_sent = True
        self.transport.write(output)
        self.transport.close()
