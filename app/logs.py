"""Where the server's and the CLI's logs go: stderr, as `LEVEL name: message`, and the access
log as bare JSON lines, one per request, which a log collector parses whole."""

from __future__ import annotations

import logging

ACCESS = "featuremaps.access"


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
