"""The batch runner on a 2-worker local cluster: failures, timeouts, reruns, interruption, a killed
worker. Each study is tiny (a 16x16x8 CT and an 8x8x4 PET) so that the mechanics are what is timed."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from medfuse.io import load
from medfuse.pipeline import load_pipeline, read_manifest, run_batch, run_pipeline

TIMEOUT_S = 8.0  # tiny studies take ~1 s, more on a loaded machine


def assert_complete(out: Path) -> dict[str, dict]:
    """Every study folder has a status and every output it lists loads; no half-written file."""
    statuses = {}
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        status = json.loads((folder / "status.json").read_text())
        assert status["study_id"] == folder.name and status["status"] in ("done", "failed")
        for name in status["outputs"]:
            if name.endswith(".json"):
                assert json.loads((folder / name).read_text())
            elif name.endswith(".nii.gz"):
                assert load(folder / name).array.size > 0
            elif name.endswith("/"):  # a folder: a DICOM series, transform files
                assert any((folder / name).iterdir())
            else:
                assert (folder / name).stat().st_size > 0
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]
        statuses[folder.name] = status
    return statuses


def cohort_rows(out: Path) -> dict[str, dict]:
    with (out / "cohort.csv").open() as fh:
        return {row["study_id"]: row for row in csv.DictReader(fh)}


def test_failing_and_hanging_studies_never_stop_the_others(cluster, cohort) -> None:
    summary = run_batch(cohort["pipeline"], cohort["manifest"], cohort["out"],
                        scheduler=cluster.scheduler_address, timeout_s=TIMEOUT_S, progress=False)
    assert sorted(summary.done) == ["s0", "s1"] and sorted(summary.failed) == ["broken", "hang"]
    assert not summary.ok
    statuses = assert_complete(cohort["out"])
    assert statuses["s0"]["outputs"] == ["volumes/ct.nii.gz", "volumes/pet_registered.nii.gz"]
    assert statuses["s0"]["summary"] == {"ct_size": "16x16x8", "pet_size": "8x8x4",
                                         "pet_registration": "geometry"}
    assert statuses["s0"]["peak_rss_mb"] > 0 and statuses["s0"]["duration_s"] > 0
    assert statuses["broken"]["reason"].startswith("load: InvalidSeriesError: ")
    assert "not a readable NIfTI file" in statuses["broken"]["reason"]
    assert statuses["hang"]["reason"] == "timed out after 8 s"
    assert statuses["hang"]["outputs"] == [] and (cohort["out"] / "hang" / "log.txt").exists()
    # provenance: pipeline hash, versions and manifest row, per study and per run
    pipeline = load_pipeline(cohort["pipeline"])
    assert statuses["s1"]["pipeline"]["sha256"] == pipeline.sha256
    assert statuses["s1"]["manifest_row"]["study_id"] == "s1"
    assert "numpy" in statuses["s1"]["versions"]
    run = json.loads((cohort["out"] / "run.json").read_text())["runs"][-1]
    assert run["pipeline"]["sha256"] == pipeline.sha256 and len(run["manifest"]["sha256"]) == 64
    assert run["workers"] == 2 and "dask" in run["versions"]
    rows = cohort_rows(cohort["out"])
    assert list(rows) == ["s0", "s1", "broken", "hang"]
    assert rows["s0"]["status"] == "done" and rows["s0"]["ct_size"] == "16x16x8"
    assert rows["hang"]["reason"] == "timed out after 8 s"
    html = (cohort["out"] / "cohort.html").read_text()
    assert "4 studies: 2 done, 2 failed" in html and '<tr class="failed">' in html


def test_rerun_skips_done_and_retries_failed(cluster, cohort) -> None:
    pipeline = load_pipeline(cohort["pipeline"])
    studies = [s for s in read_manifest(cohort["manifest"], pipeline) if s.study_id != "hang"]
    first = run_pipeline(pipeline, studies, cohort["out"], scheduler=cluster.scheduler_address,
                         progress=False)
    assert first.failed == ["broken"]
    before = json.loads((cohort["out"] / "s0" / "status.json").read_text())
    # repair the broken study's input, then run again
    good_ct = cohort["inputs"] / "s0_ct.nii.gz"
    (cohort["inputs"] / "broken_ct.nii.gz").write_bytes(good_ct.read_bytes())
    second = run_pipeline(pipeline, studies, cohort["out"], scheduler=cluster.scheduler_address,
                          progress=False)
    assert sorted(second.skipped) == ["s0", "s1"] and second.done == ["broken"] and second.ok
    assert json.loads((cohort["out"] / "s0" / "status.json").read_text()) == before
    statuses = assert_complete(cohort["out"])
    assert statuses["broken"]["attempt"] == 2 and statuses["broken"]["reason"] is None
    assert [r["status"] for r in cohort_rows(cohort["out"]).values()] == ["done"] * 3
    assert len(json.loads((cohort["out"] / "run.json").read_text())["runs"]) == 2
    # a changed pipeline file makes done studies stale: they run again
    cohort["pipeline"].write_text(cohort["pipeline"].read_text() + "# changed\n")
    third = run_pipeline(load_pipeline(cohort["pipeline"]), studies, cohort["out"],
                         scheduler=cluster.scheduler_address, progress=False)
    assert sorted(third.done) == ["broken", "s0", "s1"] and not third.skipped


def _wait_idle(cluster, timeout: float = 30.0) -> None:
    """Wait until the shared cluster has no task left (those of an interrupted client finish)."""
    deadline = time.monotonic() + timeout
    while cluster.scheduler.tasks and time.monotonic() < deadline:
        time.sleep(0.2)


#: Ctrl-C as in a terminal: a test run started in the background (``cmd &``) hands its children an
#: ignored SIGINT, which Python keeps ignored, so the CLI child restores Python's handler first
_INTERRUPTIBLE_CLI = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                      "from medfuse.cli import main; raise SystemExit(main())")


def test_cli_interrupted_part_way_then_run_again(cluster, cohort) -> None:
    command = [sys.executable, "-c", _INTERRUPTIBLE_CLI, "run", str(cohort["pipeline"]), "--manifest",
               str(cohort["manifest"]), "-o", str(cohort["out"]), "--scheduler",
               cluster.scheduler_address, "--timeout", "20", "--quiet"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not list(cohort["out"].glob("*/status.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 130, output
    assert "interrupted" in output
    statuses = assert_complete(cohort["out"])
    assert "hang" not in statuses  # it was running (blocked) when the run was interrupted
    assert cohort_rows(cohort["out"])["hang"]["status"] == "pending"
    _wait_idle(cluster)
    again = subprocess.run([*command[:-3], "--timeout", str(TIMEOUT_S), "--quiet"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1, again.stderr
    assert "failed hang" in again.stderr and "failed broken" in again.stderr
    statuses = assert_complete(cohort["out"])
    assert {k: v["status"] for k, v in statuses.items()} == {
        "s0": "done", "s1": "done", "broken": "failed", "hang": "failed"}
    assert not list(cohort["out"].glob(".*"))  # leftovers of the interrupted run were removed


def _study_processes(marker: str) -> dict[int, int]:
    """pid -> parent pid of the study processes whose command line contains ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if "medfuse.pipeline._child" in cmdline and marker in cmdline:
            found[int(entry.name)] = ppid
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_killed_worker_leaves_no_corrupt_output_and_no_orphan(cluster, cohort) -> None:
    pipeline = load_pipeline(cohort["pipeline"])
    studies = [s for s in read_manifest(cohort["manifest"], pipeline) if s.study_id == "hang"]
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.setdefault("summary", run_pipeline(
        pipeline, studies, cohort["out"], scheduler=cluster.scheduler_address, timeout_s=TIMEOUT_S,
        progress=False)))
    runner.start()
    deadline = time.monotonic() + 30
    while not (children := _study_processes(str(cohort["out"]))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert children, "the study process never started"
    (child, worker), = children.items()
    os.kill(worker, signal.SIGKILL)  # the nanny restarts it; the scheduler reruns the task
    runner.join(timeout=90)
    summary = outcome["summary"]
    assert summary.failed == ["hang"]
    status = assert_complete(cohort["out"])["hang"]
    assert status["reason"] == "timed out after 8 s"  # the rescheduled attempt ran to its limit
    deadline = time.monotonic() + 5
    while child in _study_processes(str(cohort["out"])) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert child not in _study_processes(str(cohort["out"])), "the killed worker's study lives on"


def test_two_runs_into_one_folder_do_not_collide(cohort, capsys: pytest.CaptureFixture) -> None:
    from medfuse.cli import main
    from medfuse.errors import PipelineError
    from medfuse.pipeline.runner import LOCK_FILE, run_lock

    cohort["out"].mkdir()
    with run_lock(cohort["out"]) as lock:  # a run in progress (flock: per open file, so also here)
        assert lock.read_text().startswith(f"medfuse run pid {os.getpid()} on ")
        with pytest.raises(PipelineError, match=r"another medfuse run is writing into this folder: "
                           r"the lock .*\.medfuse-run\.lock is held by medfuse run pid \d+"):
            run_batch(cohort["pipeline"], cohort["manifest"], cohort["out"], progress=False)
        code = main(["run", str(cohort["pipeline"]), "--manifest", str(cohort["manifest"]),
                     "-o", str(cohort["out"]), "--quiet"])
        assert code == 2 and LOCK_FILE in capsys.readouterr().err
    assert not (cohort["out"] / LOCK_FILE).exists()  # released and removed with the run
    assert list(cohort["out"].iterdir()) == []  # the refused runs touched nothing
    # a lock file left by a killed run is not held by anyone: it does not block the next run
    (cohort["out"] / LOCK_FILE).write_text("medfuse run pid 1 on elsewhere since yesterday\n")
    with run_lock(cohort["out"]):
        pass
