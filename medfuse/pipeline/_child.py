"""Entry point of a study's process: ``python -m medfuse.pipeline._child SPEC.json WORKER_PID``.

The orphan watch starts before anything else is imported, so that a worker killed while its study
starts up never leaves the study running.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    from medfuse.pipeline.study import child_main, exit_when_orphaned

    exit_when_orphaned(int(sys.argv[2]))
    sys.exit(child_main(Path(sys.argv[1])))
