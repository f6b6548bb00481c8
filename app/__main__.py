"""`featuremaps ...` and `python -m app ...`: the command line of `app/cli.py`, started so
that Ctrl-C while its modules still import (about 0.2 s: pydantic and the settings) is the
same one line and exit 130 as Ctrl-C later, not a KeyboardInterrupt traceback (a review)."""

import sys


def main() -> int:
    try:
        from app import cli

        return cli.main()
    except KeyboardInterrupt:  # cli.main says it itself once the command runs
        # as cli._err says a line, written here: app/cli.py may be half imported
        if sys.stderr is not None:  # started with 2>&-
            try:
                sys.stderr.write("featuremaps: interrupted\n")
                sys.stderr.flush()
            except OSError:
                pass
        return 130  # 128 + SIGINT, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
