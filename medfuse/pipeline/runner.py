"""The batch runner: one Dask task per study, on a local cluster or any ``dask.distributed`` scheduler.

Each study writes ``DIR/<study_id>/`` with its outputs and a ``status.json`` (see
:mod:`medfuse.pipeline.study`). A rerun skips studies already done with the same pipeline file and
manifest row, and retries the others. At the end (and after an interruption) ``DIR/cohort.csv``,
``DIR/cohort.html`` and ``DIR/run.json`` (every run's provenance) describe the whole cohort.

Dask is imported here only, inside :func:`run_pipeline`: engines never depend on it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medfuse._optional import require
from medfuse.errors import PipelineError
from medfuse.io._atomic import write_text
from medfuse.pipeline.cohort import write_cohort
from medfuse.pipeline.config import Pipeline, load_pipeline
from medfuse.pipeline.manifest import Study, manifest_sha256, read_manifest
from medfuse.provenance import machine, versions
from medfuse.pipeline.study import execute_study, now, read_status, write_status_folder

logger = logging.getLogger(__name__)

#: the lock file that keeps two runs out of one cohort folder
LOCK_FILE = ".medfuse-run.lock"


@dataclass
class RunSummary:
    """What a run did: study ids by outcome, and where the cohort table is."""

    out_dir: Path
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """True when every study of the manifest is done (now or in an earlier run)."""
        return not self.failed and not self.interrupted


def run_batch(
    pipeline_path: str | Path,
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    timeout_s: float | None = None,
    progress: bool = True,
) -> RunSummary:
    """Validate a pipeline file and a study manifest, then run every study (``medfuse run``).

    Raises
    ------
    PipelineError
        The pipeline or the manifest is invalid: nothing has run.
    """
    pipeline = load_pipeline(pipeline_path)
    studies = read_manifest(manifest_path, pipeline)
    return run_pipeline(pipeline, studies, out_dir, manifest_path=manifest_path,
                        scheduler=scheduler, workers=workers, timeout_s=timeout_s,
                        progress=progress)


def run_pipeline(
    pipeline: Pipeline,
    studies: list[Study],
    out_dir: str | Path,
    *,
    manifest_path: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    timeout_s: float | None = None,
    progress: bool = True,
) -> RunSummary:
    """Run ``pipeline`` on every study not already done, one Dask task per study.

    Parameters
    ----------
    pipeline, studies : from :func:`~medfuse.pipeline.config.load_pipeline` and
        :func:`~medfuse.pipeline.manifest.read_manifest`.
    out_dir : the cohort folder (``out_dir/<study_id>/`` per study).
    scheduler : address of a running ``dask.distributed`` scheduler; by default a local cluster
        of ``workers`` processes (default: one per CPU) with one thread each.
    timeout_s : per-study time limit (default: the pipeline's ``timeout_s``, else none).
    progress : show a progress bar.

    A ``KeyboardInterrupt`` stops the cluster, writes the cohort table of what is done, and is
    raised again; no study folder is left half written.

    Raises
    ------
    PipelineError
        Another run is writing into ``out_dir`` (see :func:`run_lock`), or ``out_dir`` lies inside
        an input folder.
    """
    out_dir = Path(out_dir).resolve()
    _check_out_dir(out_dir, studies)
    out_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(out_dir):
        return _run_locked(pipeline, studies, out_dir, manifest_path=manifest_path,
                           scheduler=scheduler, workers=workers, timeout_s=timeout_s,
                           progress=progress)


def _run_locked(pipeline: Pipeline, studies: list[Study], out_dir: Path, *,
                manifest_path: str | Path | None, scheduler: str | None, workers: int | None,
                timeout_s: float | None, progress: bool) -> RunSummary:
    """:func:`run_pipeline` once ``out_dir`` is locked for this run."""
    _remove_leftovers(out_dir)
    timeout_s = timeout_s if timeout_s is not None else pipeline.timeout_s
    run_id = uuid.uuid4().hex[:12]
    summary = RunSummary(out_dir=out_dir)
    todo = []
    for study in studies:
        previous = read_status(out_dir / study.study_id)
        if _is_current(previous, pipeline, study):
            summary.skipped.append(study.study_id)
        else:
            todo.append((study, (previous or {}).get("attempt", 0) + 1))
    logger.info("%d studies to run, %d already done", len(todo), len(summary.skipped))
    record = {
        "run_id": run_id, "started": now(), "finished": None,
        "pipeline": {"source": pipeline.source, "sha256": pipeline.sha256, "name": pipeline.name},
        "manifest": {"source": str(manifest_path) if manifest_path else None,
                     "sha256": manifest_sha256(manifest_path) if manifest_path else None},
        "scheduler": scheduler or "local", "workers": workers, "timeout_s": timeout_s,
        "versions": versions(), "machine": machine(),
    }
    start = time.perf_counter()
    try:
        if todo:
            with _client(scheduler, workers) as client:
                record["workers"] = len(client.scheduler_info().get("workers", {}))
                _run_tasks(client, pipeline, todo, out_dir, run_id, timeout_s, summary, progress)
    except KeyboardInterrupt:
        summary.interrupted = True
        raise
    finally:
        summary.duration_s = round(time.perf_counter() - start, 3)
        record.update({
            "finished": now(), "duration_s": summary.duration_s, "interrupted": summary.interrupted,
            "done": summary.done, "failed": summary.failed, "skipped": summary.skipped,
        })
        _append_run(out_dir, record)
        write_cohort(out_dir, [s.study_id for s in studies])
    return summary


def _run_tasks(client: Any, pipeline: Pipeline, todo: list[tuple[Study, int]], out_dir: Path,
               run_id: str, timeout_s: float | None, summary: RunSummary, progress: bool) -> None:
    from dask.distributed import as_completed
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    model = pipeline.model_dump(mode="json")
    futures: dict[Any, tuple[Study, dict[str, Any]]] = {}
    for study, attempt in todo:
        spec = {
            "out_dir": str(out_dir), "run_id": run_id, "attempt": attempt, "timeout_s": timeout_s,
            "pipeline": {"model": model, "source": pipeline.source, "sha256": pipeline.sha256},
            "study": {"study_id": study.study_id, "row": study.row,
                      "inputs": {role: str(p) for role, p in study.inputs.items()}},
        }
        future = client.submit(execute_study, spec, key=f"medfuse-{study.study_id}-{run_id}",
                               pure=False)
        futures[future] = (study, spec)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[failed]} failed"))
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task("studies", total=len(todo), failed=0)
        for future in as_completed(list(futures)):
            study, spec = futures[future]
            try:
                status = future.result()
            except Exception as err:  # the task itself was lost (e.g. its worker kept dying)
                status = _lost_task_status(spec, err)
            (summary.done if status["status"] == "done" else summary.failed).append(study.study_id)
            bar.update(task, advance=1, failed=len(summary.failed),
                       description=f"{study.study_id} {status['status']}")


def _lost_task_status(spec: dict[str, Any], err: Exception) -> dict[str, Any]:
    study = spec["study"]
    status = {
        "study_id": study["study_id"], "status": "failed",
        "reason": f"the task was lost: {type(err).__name__}: {err}", "duration_s": None,
        "started": None, "finished": now(), "attempt": spec["attempt"], "run_id": spec["run_id"],
        "pipeline": {"source": spec["pipeline"]["source"], "sha256": spec["pipeline"]["sha256"]},
        "manifest_row": study["row"], "inputs": study["inputs"], "summary": {}, "outputs": [],
    }
    return write_status_folder(Path(spec["out_dir"]), study["study_id"], status)


@contextmanager
def run_lock(out_dir: Path) -> Iterator[Path]:
    """Hold ``out_dir/.medfuse-run.lock`` for one run: an exclusive ``flock``, which the operating
    system releases whenever the holder ends (killed too), so a lock is never stale. The file names
    its holder and is removed when the run ends.

    Raises
    ------
    PipelineError
        Another run holds the lock (the message names the lock file and its holder).
    """
    import errno
    import fcntl

    path = out_dir / LOCK_FILE
    while True:
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise PipelineError(f"cannot lock {path} ({err.strerror})", path=out_dir) from err
            raise PipelineError(f"another medfuse run is writing into this folder: the lock {path} "
                                f"is held by {holder}; wait for that run to end or choose another "
                                "-o", path=out_dir) from err
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()  # the previous holder removed the file as we opened it: lock the new one
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"medfuse run pid {os.getpid()} on {os.uname().nodename} since {now()}\n")
        handle.flush()
        yield path
    finally:
        path.unlink(missing_ok=True)
        handle.close()


@contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a new local cluster (closed on exit)."""
    require("distributed")
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=30)
        except OSError as err:
            raise PipelineError(f"cannot reach the Dask scheduler at {scheduler!r} ({err})") from err
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                      processes=True, dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def _is_current(status: dict[str, Any] | None, pipeline: Pipeline, study: Study) -> bool:
    """Done with this very pipeline file and manifest row."""
    return (status is not None and status.get("status") == "done"
            and status.get("pipeline", {}).get("sha256") == pipeline.sha256
            and status.get("manifest_row") == study.row)


def _check_out_dir(out_dir: Path, studies: list[Study]) -> None:
    """Refuse a cohort folder over an input, holding one, or inside a DICOM series folder
    (:func:`medfuse.io.paths.check_output`); beside the inputs is fine."""
    from medfuse.errors import InputError
    from medfuse.io.paths import check_output

    try:
        check_output(out_dir, [p for study in studies for p in study.inputs.values()])
    except InputError as err:
        raise PipelineError(str(err)) from err


def _remove_leftovers(out_dir: Path) -> None:
    """Remove the hidden temporary folders of interrupted studies."""
    for leftover in [*out_dir.glob(".*.tmp-*"), *out_dir.glob(".*.old-*")]:
        if leftover.is_dir():
            logger.info("removing the leftover of an interrupted study: %s", leftover.name)
            shutil.rmtree(leftover, ignore_errors=True)


def _append_run(out_dir: Path, record: dict[str, Any]) -> None:
    """Add this run's record to ``run.json`` (the provenance of every run into this folder)."""
    path = out_dir / "run.json"
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
    except (OSError, ValueError, KeyError):
        runs = []
    write_text(path, json.dumps({"runs": [*runs, record]}, indent=2, default=str))
