"""Load a 512x512x300 CT DICOM series: ``medfuse.io.load`` beside SimpleITK's ImageSeriesReader.

The series is the sample phantom's CT (``medfuse.sample.make_ct_series``, int16, one file per slice)
written with ``medfuse.io.write_dicom_series`` into a temporary folder. Each load runs in a fresh
subprocess, alternating the two readers, so that the peak resident memory of one load is that
process's peak resident set (``VmHWM``, reset once the imports are done) minus its resident set then; our path is also measured with
``tracemalloc`` (numpy reports its buffers to it) in a separate, untimed run. Both timings cover
folder -> array in memory: finding the files of the series, reading and sorting them, and assembling
the volume (SimpleITK: ``GetGDCMSeriesFileNames`` + ``Execute``).

Usage::

    python benchmarks/bench_load.py [--shape 300 512 512] [--repeats 3] [--out benchmarks/results_load.md]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger("bench_load")


def _status_bytes(field: str) -> int:
    """A memory figure of this process from ``/proc/self/status`` (Linux), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def _reset_peak_rss() -> int:
    """Reset this process's peak resident set (VmHWM) to its current size and return that size.

    ``ru_maxrss`` cannot serve: Linux carries it over from the parent across fork and exec.
    """
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def _child(reader: str, folder: str, trace: bool) -> dict:
    """Load ``folder`` once in this (fresh) process and return time and memory."""
    import numpy as np
    import pydicom.pixels  # noqa: F401  (every import is done before the baseline)
    import SimpleITK as sitk

    import medfuse.io
    import medfuse.io.dicom  # noqa: F401

    if trace:
        import tracemalloc

        tracemalloc.start()
    baseline = _reset_peak_rss()
    start = time.perf_counter()
    if reader == "medfuse":
        array = medfuse.io.load(folder).array
    else:
        series = sitk.ImageSeriesReader()
        series.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder))
        image = series.Execute()  # keep the image alive: the view below shares its buffer
        array = sitk.GetArrayViewFromImage(image)
    seconds = time.perf_counter() - start
    peak = _status_bytes("VmHWM") - baseline
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    out = {"reader": reader, "seconds": seconds, "peak_rss_bytes": peak,
           "volume_bytes": int(array.nbytes), "shape": list(array.shape), "dtype": str(array.dtype),
           "checksum": int(np.asarray(array, dtype=np.int64).sum())}
    if traced is not None:
        out["tracemalloc_peak_bytes"] = traced
    return out


def _run_child(reader: str, folder: Path, *, trace: bool = False) -> dict:
    command = [sys.executable, __file__, "--child", reader, str(folder)] + (["--trace"] if trace else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _make_series(folder: Path, shape: tuple[int, int, int]) -> float:
    from medfuse.io import write_dicom_series
    from medfuse.sample import make_ct_series

    start = time.perf_counter()
    write_dicom_series(make_ct_series(shape), folder, series_description="benchmark CT")
    return time.perf_counter() - start


def _warm_cache(folder: Path) -> None:
    for path in folder.iterdir():
        path.read_bytes()


def _table(results: dict[str, list[dict]], traced: dict, shape, made_s: float) -> str:
    mib = 2**20
    volume = results["medfuse"][0]["volume_bytes"]
    rows = []
    for reader, label in (("medfuse", "medfuse.io.load"), ("sitk", "SimpleITK ImageSeriesReader")):
        runs = results[reader]
        seconds = [r["seconds"] for r in runs]
        peak = max(r["peak_rss_bytes"] for r in runs)
        rows.append(f"| {label} | {statistics.median(seconds):.2f} | {min(seconds):.2f} - "
                    f"{max(seconds):.2f} | {peak / mib:.0f} | {peak / volume:.2f} |")
    ratio = (statistics.median(r["seconds"] for r in results["medfuse"])
             / statistics.median(r["seconds"] for r in results["sitk"]))
    same = len({r["checksum"] for rs in results.values() for r in rs}) == 1
    cpu = f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"
    return "\n".join([
        "## Loading a CT DICOM series (benchmarks/bench_load.py)",
        "",
        f"{shape[2]}x{shape[1]}x{shape[0]} int16 CT of the sample phantom, one file per slice "
        f"({volume / mib:.0f} MiB of voxels; made by `make_ct_series` and written by "
        f"`write_dicom_series` in {made_s:.0f} s), "
        f"page cache warm, imports done before timing; {len(results['medfuse'])} loads per reader, alternating, each in a fresh "
        f"process. Peak memory: the process's peak resident set (VmHWM, reset after the imports) "
        f"minus its resident set after the imports. Machine: {cpu}.",
        "",
        "| reader | median s | range s | peak MiB | peak / volume |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Time ratio medfuse / SimpleITK: **{ratio:.2f}** (goal: <= 1). "
        f"Peak memory of medfuse.io.load measured by tracemalloc (numpy buffers): "
        f"{traced['tracemalloc_peak_bytes'] / mib:.0f} MiB = "
        f"{traced['tracemalloc_peak_bytes'] / volume:.2f} x the volume (goal: < 2). "
        f"Both readers returned the same voxels: {'yes' if same else 'NO'}.",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(300, 512, 512), metavar=("Z", "Y", "X"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results_load.md"))
    parser.add_argument("--child", nargs=2, metavar=("READER", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child, args.trace)))
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="medfuse-bench-load-") as tmp:
        folder = Path(tmp) / "ct"
        made_s = _make_series(folder, tuple(args.shape))
        log.info("wrote %s in %.1f s", folder, made_s)
        _warm_cache(folder)
        results: dict[str, list[dict]] = {"medfuse": [], "sitk": []}
        for k in range(args.repeats):
            order = ("medfuse", "sitk") if k % 2 == 0 else ("sitk", "medfuse")
            for reader in order:
                results[reader].append(_run_child(reader, folder))
                log.info("%s: %.2f s, peak %.0f MiB", reader, results[reader][-1]["seconds"],
                         results[reader][-1]["peak_rss_bytes"] / 2**20)
        traced = _run_child("medfuse", folder, trace=True)
    text = _table(results, traced, args.shape, made_s)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
