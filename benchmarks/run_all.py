"""Run every benchmark, then assemble benchmarks/RESULTS.md from their result sections.

Each benchmark writes ``benchmarks/results_<name>.md``; RESULTS.md is those sections in a fixed
order under one heading each, so the committed table is always what the scripts printed. What was
learnt from a run is written by hand in ``benchmarks/notes_<name>.md``, which follows its section.

Usage: ``python benchmarks/run_all.py [--assemble-only]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
#: (section title, script, its results file, the script's arguments)
SECTIONS = [
    ("Start-up", "bench_startup.py", "results_startup.md", ()),
    ("Loading a 512x512x300 CT DICOM series (issue 2)", "bench_load.py", "results_load.md", ()),
    ("Registration against the anchors (issue 3)", "registration.py", "results_registration.md",
     ("--out", str(HERE / "results_registration.md"), "--wide", "--command", "--pet-ct",
      "--draws", "8")),
    ("Deformable registration against exact truth (issue 21)", "deformable.py",
     "results_deformable.md", ("--out", str(HERE / "results_deformable.md"), "--seeds", "2")),
    ("Fusion against the anchors (issue 4)", "fusion.py", "results_fusion.md", ()),
    ("The app: first render and event-loop stalls (issue 5)", "bench_app.py", "results_app.md", ()),
    ("Batch throughput on Dask (issue 7)", "bench_batch.py", "results_batch.md", ()),
]


def _demote(markdown: str) -> str:
    """Headings of a section file become sub-headings (### and deeper) of its RESULTS.md section."""
    return re.sub(r"^(#+) ", lambda m: "#" * max(3, len(m.group(1)) + 1) + " ", markdown,
                  flags=re.MULTILINE)


def assemble() -> Path:
    """Write RESULTS.md from the per-benchmark result files that exist."""
    parts = [
        "# Benchmark results",
        "",
        "Measured on this project's machine (2 cores, 24 GiB, no GPU), peers side by side in one run,",
        "reported as ratios where a peer exists. Regenerate with `make bench`; each section below is",
        "the file its script writes. Machine: " + platform.platform() + ".",
        "",
    ]
    for title, script, results, _ in SECTIONS:
        path, notes = HERE / results, HERE / results.replace("results_", "notes_", 1)
        parts += [f"## {title}", "", f"Script: `benchmarks/{script}`.", ""]
        parts += [_demote(path.read_text().strip()) if path.exists() else "_not run yet_", ""]
        if notes.exists():
            parts += [_demote(notes.read_text().strip()), ""]
    out = HERE / "RESULTS.md"
    out.write_text("\n".join(parts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assemble-only", action="store_true")
    args = parser.parse_args()
    if not args.assemble_only:
        for _, script, _, arguments in SECTIONS:
            if (HERE / script).exists():
                print(f"[{dt.datetime.now():%H:%M:%S}] {script}", flush=True)
                subprocess.run([sys.executable, str(HERE / script), *arguments], check=False)
    print(assemble())


if __name__ == "__main__":
    main()
