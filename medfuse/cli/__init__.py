"""``medfuse`` command line. Each command lives in its own module and calls one engine or workflow
function; heavy packages are imported inside the commands so that ``medfuse --help`` stays fast."""

from __future__ import annotations

import logging
import sys

from medfuse.cli import demo  # noqa: F401  (commands register on import)
from medfuse.cli import fuse, train  # noqa: F401
from medfuse.cli import info  # noqa: F401
from medfuse.cli import plugins  # noqa: F401
from medfuse.cli import register  # noqa: F401
from medfuse.cli import report  # noqa: F401
from medfuse.cli import resample  # noqa: F401
from medfuse.cli import run  # noqa: F401
from medfuse.cli import sample_data  # noqa: F401
from medfuse.cli import view  # noqa: F401
from medfuse.cli._app import app
from medfuse.errors import MedFuseError
from medfuse.io._atomic import clean_up_on_signals

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a ``MedFuseError`` becomes one line on stderr and exit status 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    clean_up_on_signals()
    try:
        app(args=argv, prog_name="medfuse")
    except MedFuseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0
