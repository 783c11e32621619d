"""Entry point of a study's process: ``python -m medfuse.pipeline._child SPEC.json``."""

from __future__ import annotations

import sys
from pathlib import Path

from medfuse.pipeline.study import child_main

if __name__ == "__main__":
    sys.exit(child_main(Path(sys.argv[1])))
