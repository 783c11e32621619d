"""Atomic output: write under a temporary name beside the target, then rename into place.

A temporary name records the process that made it (``.<name>.mf<pid>_<host>_XXXXXXXX<suffix>``).
Every exit path of the process removes its temporaries (a ``finally``; :func:`clean_up_on_signals`
turns SIGTERM and SIGHUP into an exit that runs it), and a process that was killed outright
(SIGKILL, power loss) leaves names that the next write of the same target recognises as stale
(their process is gone) and removes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _suffix(path: Path) -> str:
    """The full suffix (``.nii.gz`` stays whole) so that writers still recognise the format."""
    return "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname()) or "host"


def _prefix(target: Path) -> str:
    """The start of this process's temporary names for ``target``."""
    return f".{target.name}.mf{os.getpid()}_{_host()}_"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``target`` left by processes of this host that no longer run.

    Returns the paths removed. Temporaries of live processes (a concurrent writer) are kept.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> dead = folder / f".a.nii.mf999999999_{_host()}_abcdefgh.nii"  # no such process
    >>> other_host = folder / ".a.nii.mf999999999_elsewhere_abcdefgh.nii"
    >>> _ = dead.write_text("half"), other_host.write_text("half")
    >>> [p.name == dead.name for p in remove_stale_temporaries(folder / "a.nii")]
    [True]
    >>> other_host.exists()  # another host's process: not ours to judge
    True
    """
    target = Path(target)
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.mf(\d+)_{re.escape(_host())}_")
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in target.parent.iterdir():
            match = pattern.match(entry.name)
            if match is None or _alive(int(match.group(1))):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed to ``target``.

    A failure (or a killed process) leaves nothing under the final name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
    ('done', ['a.txt'])
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, name = tempfile.mkstemp(prefix=_prefix(target), suffix=_suffix(target) or ".tmp",
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target`` whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(target), dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def clean_up_on_signals() -> None:
    """Make SIGTERM and SIGHUP exit through ``finally`` blocks (status 128 + signal), as Ctrl-C
    does, so that a terminated command removes its temporaries. Call once, from a front end's
    main thread."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _exit_on_signal)
