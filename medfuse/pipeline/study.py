"""One study, run in its own process: the unit of work that the batch runner hands to a worker.

:func:`execute_study` (run by a Dask worker) starts ``python -m medfuse.pipeline._child SPEC`` in a
new session, waits for it with the study's time limit, and kills it when the limit passes. The child
writes into a hidden temporary folder beside the final one; the worker then writes ``status.json``
(done or failed, with the reason) into it and renames the folder into place. So ``DIR/<study_id>/``
either does not exist or is complete: a timed-out, crashed or killed study, a killed worker or a
Ctrl-C leaves at most a hidden ``.<study_id>.tmp-*`` folder that the next run removes. The child
exits by itself when its parent (the worker) dies.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from medfuse.io._atomic import write_text

logger = logging.getLogger(__name__)

STATUS_FILE = "status.json"
LOG_FILE = "log.txt"
_RESULT, _ERROR, _SPEC = "result.json", "error.json", "spec.json"


def now() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_status(folder: Path) -> dict[str, Any] | None:
    """The ``status.json`` of a study folder, or None when there is none (or it is unreadable)."""
    try:
        return json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def install_folder(tmp: Path, final: Path) -> None:
    """Move a complete study folder into place; a previous one is renamed away first, then removed."""
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def write_status_folder(out_dir: Path, study_id: str, status: dict[str, Any],
                        tmp: Path | None = None) -> dict[str, Any]:
    """Write ``status`` into ``tmp`` (a new folder when None) and install it as ``out_dir/study_id``."""
    tmp = tmp or Path(_new_tmp(out_dir, study_id))
    write_text(tmp / STATUS_FILE, json.dumps(status, indent=2, default=str))
    install_folder(tmp, out_dir / study_id)
    return status


def _new_tmp(out_dir: Path, study_id: str) -> Path:
    tmp = out_dir / f".{study_id}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    return tmp


def execute_study(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one study in a child process and install its folder; returns its status record.

    ``spec`` holds ``out_dir``, ``study`` (``study_id``, ``inputs``, ``row``), ``pipeline`` (the
    validated pipeline as JSON, with ``source`` and ``sha256``), ``timeout_s``, ``attempt`` and
    ``run_id``. Never raises for a failing study: the failure is its status.
    """
    out_dir, study_id = Path(spec["out_dir"]), spec["study"]["study_id"]
    tmp = _new_tmp(out_dir, study_id)
    write_text(tmp / _SPEC, json.dumps(spec))
    started, start = now(), time.perf_counter()
    timeout = spec.get("timeout_s")
    with (tmp / LOG_FILE).open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "medfuse.pipeline._child", str(tmp / _SPEC), str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            code = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            code = None
        except BaseException:  # the worker is being stopped: take the child down, leave no folder
            os.killpg(child.pid, signal.SIGKILL)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    duration = round(time.perf_counter() - start, 3)
    result = _read_json(tmp / _RESULT)
    status: dict[str, Any] = {
        "study_id": study_id,
        "status": "done" if code == 0 and result is not None else "failed",
        "reason": None,
        "duration_s": duration,
        "started": started,
        "finished": now(),
        "attempt": spec.get("attempt", 1),
        "run_id": spec.get("run_id"),
        "worker_host": os.uname().nodename,
        "pipeline": {"source": spec["pipeline"]["source"], "sha256": spec["pipeline"]["sha256"]},
        "manifest_row": spec["study"]["row"],
        "inputs": spec["study"]["inputs"],
        "summary": {}, "outputs": [], "timings": {}, "peak_rss_mb": None, "versions": {},
    }
    if result is not None:
        status.update({k: result[k] for k in ("summary", "outputs", "timings", "peak_rss_mb",
                                               "versions")})
    if status["status"] == "failed":
        status["reason"] = _failure_reason(code, timeout, tmp)
        for name in result["outputs"] if result else []:
            if name.endswith("/"):
                shutil.rmtree(tmp / name, ignore_errors=True)
            else:
                (tmp / name).unlink(missing_ok=True)
        logger.warning("study %s failed: %s", study_id, status["reason"])
    for name in (_SPEC, _RESULT, _ERROR):
        (tmp / name).unlink(missing_ok=True)
    return write_status_folder(out_dir, study_id, status, tmp)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _failure_reason(code: int | None, timeout: float | None, tmp: Path) -> str:
    if code is None:
        return f"timed out after {timeout:g} s"
    error = _read_json(tmp / _ERROR)
    if error is not None:
        return f"{error['step']}: {error['reason']}"
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"the study process was killed by {name}{hint}"
    return f"the study process exited with code {code} (see {LOG_FILE})"


def exit_when_orphaned(parent: int) -> None:
    """Exit as soon as ``parent`` (the worker) is gone, so that no study outlives its worker."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, daemon=True, name="medfuse-orphan-watch").start()


def child_main(spec_path: Path) -> int:
    """Child process: run the steps into the spec's folder and write ``result.json``."""
    from medfuse import __version__
    from medfuse.pipeline.config import Pipeline
    from medfuse.provenance import versions
    from medfuse.pipeline.steps import StepFailed, run_steps

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    folder = spec_path.parent
    pipeline = Pipeline.model_validate(spec["pipeline"]["model"])
    inputs = {role: Path(p) for role, p in spec["study"]["inputs"].items()}
    logger.info("medfuse %s: study %s", __version__, spec["study"]["study_id"])
    try:
        state = run_steps(pipeline, inputs, folder)
    except StepFailed as failed:  # a failing study is a result, reported in its status
        traceback.print_exc()
        write_text(folder / _ERROR, json.dumps({"step": failed.step,
                                                "reason": _one_line(failed.__cause__)}))
        return 1
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    write_text(folder / _RESULT, json.dumps({
        "summary": state.summary, "outputs": state.outputs, "timings": state.timings,
        "peak_rss_mb": round(peak_kb / 1024, 1), "versions": versions(),
    }, default=str))
    return 0


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__

