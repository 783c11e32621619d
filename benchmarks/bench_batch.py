"""Batch throughput: studies per minute with 1 and 2 local workers, memory per study process.

Runs the quick PET/CT pipeline (scanner geometry, average fusion, ROI statistics, JSON report,
NIfTI export) on N copies of the real study ``volumes/sts/STS_001`` (read in place, one manifest row
per copy) into a temporary folder, once per worker count, and prints a Markdown table.

    .venv/bin/python benchmarks/bench_batch.py [--studies 6] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from medfuse.pipeline import load_pipeline, read_manifest, run_pipeline

DATA = Path(os.environ.get("MEDFUSE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "pet_ct_quick.yaml"


def run_once(n_studies: int, workers: int, folder: Path) -> dict[str, float]:
    """Run ``n_studies`` copies of STS_001 on a fresh local cluster of ``workers`` processes."""
    sts = DATA / "volumes" / "sts" / "STS_001"
    row = (f"{sts / 'CT/nifti/image/image.nii.gz'},{sts / 'PET/nifti/image/image.nii.gz'},"
           f"{sts / 'CT/nifti/mask/mask.nii.gz'}")
    manifest = folder / f"studies_{workers}.csv"
    manifest.write_text("study_id,ct,pet,mask\n"
                        + "".join(f"s{i:03d},{row}\n" for i in range(n_studies)))
    pipeline = load_pipeline(PIPELINE)
    studies = read_manifest(manifest, pipeline)
    out = folder / f"out_{workers}"
    start = time.perf_counter()
    summary = run_pipeline(pipeline, studies, out, workers=workers, progress=False)
    wall = time.perf_counter() - start
    assert summary.ok, summary.failed
    statuses = [json.loads((out / s.study_id / "status.json").read_text()) for s in studies]
    return {
        "workers": workers, "studies": n_studies, "wall_s": wall,
        "studies_per_min": n_studies / wall * 60,
        "study_s_median": statistics.median(s["duration_s"] for s in statuses),
        "peak_rss_mb_max": max(s["peak_rss_mb"] for s in statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=6)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_once(args.studies, w, Path(tmp)) for w in args.workers]
    base = results[0]["studies_per_min"] / results[0]["workers"]
    print(f"CPUs: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.1f}\n")
    print("| workers | studies | wall (s) | studies/min | scaling efficiency | median study (s) "
          "| peak RSS per study process (MB) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        efficiency = r["studies_per_min"] / (base * r["workers"])
        print(f"| {r['workers']} | {r['studies']} | {r['wall_s']:.1f} | {r['studies_per_min']:.2f} "
              f"| {efficiency:.0%} | {r['study_s_median']:.1f} | {r['peak_rss_mb_max']:.0f} |")


if __name__ == "__main__":
    main()
