"""app/logs.py: the access log as bare JSON lines on stderr, unless the process configured
logging itself. Run in children: pytest's own handlers on the root logger would count as a
set-up."""

from __future__ import annotations

import subprocess
import sys

from app.config import PROJECT_ROOT

LOG_TWICE = ("import logging\n"
             "from app import logs\n"
             "logs.configure(logging.INFO)\n"
             "logs.configure(logging.INFO)  # the CLI's, then the app factory's: no double\n"
             "logging.getLogger(logs.ACCESS).info('%s', '{\"status\":200}')\n"
             "logging.getLogger('app.main').info('shutting down')\n")


def stderr_of(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stderr.splitlines()


def test_the_access_log_is_bare_json_among_the_other_lines() -> None:
    assert stderr_of(LOG_TWICE) == ['{"status":200}', "INFO app.main: shutting down"]


def test_an_embedding_apps_own_logging_wins() -> None:
    """An app that set up logging itself gets every line, the access log's too, in its
    format, once."""
    setup = ("import logging\n"
             "logging.basicConfig(level=logging.INFO, format='theirs %(name)s %(message)s')\n")
    assert stderr_of(setup + LOG_TWICE) == [
        'theirs featuremaps.access {"status":200}', "theirs app.main shutting down"]
