"""Where the server's and the CLI's logs go: stderr, as `LEVEL name: message`, and the access
log as bare JSON lines, one per request, which a log collector parses whole; and what a
client did wrong is kept out of uvicorn's ERRORs (ClientMistakes)."""

from __future__ import annotations

import logging
from contextvars import ContextVar

ACCESS = "featuremaps.access"

# uvicorn's error log says two things at ERROR that are no error of the server's:
# - after a WebSocket handshake refused with an HTTP answer (`refuse` in
#   app/api/routes/live.py), its default protocol, websockets-sansio, logs that the app
#   "returned without completing handshake" (an open uvicorn pull request, 3138, fixes it).
#   `refuse` marks its task, so that the line is dropped there alone;
# - a text frame of invalid UTF-8 gets close code 1007, as it should, and an ERROR with a
#   traceback. It is the client's mistake: it is logged as uvicorn logs an invalid HTTP
#   request, one WARNING line.
HANDSHAKE_REFUSED: ContextVar[bool] = ContextVar("handshake_refused", default=False)
AFTER_DENIAL = "ASGI callable returned without completing handshake."
CLIENT_UTF8 = "Invalid UTF-8 sequence received from client."


class ClientMistakes(logging.Filter):
    """On uvicorn's error log: what a client did wrong is not logged as the server's error."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message == AFTER_DENIAL:
            return not HANDSHAKE_REFUSED.get()
        if message == CLIENT_UTF8:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


CLIENT_MISTAKES = ClientMistakes()


def quiet_client_mistakes() -> None:
    """Put the filter on uvicorn's error log (once, however many apps are made)."""
    errors = logging.getLogger("uvicorn.error")
    if CLIENT_MISTAKES not in errors.filters:
        errors.addFilter(CLIENT_MISTAKES)


def configure(level: int) -> None:
    """Set up logging at `level`, unless something configured it already (an application
    that embeds ours, or uvicorn's --log-config): their set-up wins, as with basicConfig,
    and the access log goes where theirs sends it (the root's handlers, or featuremaps')."""
    access = logging.getLogger(ACCESS)
    handled = access.hasHandlers()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if handled:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(handler)
    access.propagate = False
