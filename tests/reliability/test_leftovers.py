"""No leftovers: a terminated writer removes its temporaries; a killed one leaves names that the next
write of the same target recognises and removes."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from medfuse.io._atomic import write_text

WRITER = """
import sys, time
from medfuse.io._atomic import atomic_path, clean_up_on_signals
clean_up_on_signals()
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_text("half written")
    print("writing", flush=True)
    time.sleep(60)
"""


def _writer_stopped_by(sig: int, target: Path) -> int:
    """Start a writer of ``target``, send it ``sig`` while its temporary exists; its exit status."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "writing"
    process.send_signal(sig)
    return process.wait(timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_terminated_writer_leaves_nothing(tmp_path: Path, sig: int) -> None:
    target = tmp_path / "registered.nii.gz"
    assert _writer_stopped_by(sig, target) == 128 + sig
    assert list(tmp_path.iterdir()) == []


def test_killed_writer_is_cleaned_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    assert _writer_stopped_by(signal.SIGKILL, target) == -signal.SIGKILL
    (stale,) = tmp_path.iterdir()
    assert stale.name.startswith(".report.json.mf")
    (tmp_path / "other.json").write_text("kept")
    write_text(target, "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json", "report.json"]
