"""Start-up cost: `import medfuse` and `medfuse --help` in fresh processes, beside the heavy imports
the engines defer (SimpleITK, itk, torch, monai, napari), so the ratio shows what laziness saves.

Run: ``.venv/bin/python benchmarks/bench_startup.py`` (writes benchmarks/results_startup.md).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 5
CASES = {
    "import medfuse": [sys.executable, "-c", "import medfuse"],
    "medfuse --help": [sys.executable, "-c", "import sys; from medfuse.cli import main; sys.argv=['medfuse','--help']; main(['--help'])"],
    "import SimpleITK": [sys.executable, "-c", "import SimpleITK"],
    "import torch": [sys.executable, "-c", "import torch"],
    "import monai": [sys.executable, "-c", "import monai"],
    "import itk + elastix": [sys.executable, "-c", "import itk; itk.ElastixRegistrationMethod"],
    "import napari": [sys.executable, "-c", "import napari"],
}


def time_command(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    timings: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(REPEATS):  # interleaved, so machine noise hits every case alike
        for name, command in CASES.items():
            timings[name].append(time_command(command))
    python = statistics.median(time_command([sys.executable, "-c", "pass"]) for _ in range(REPEATS))
    lines = [
        "| process | median s | vs bare python |",
        "|---|---|---|",
        f"| python -c pass | {python:.3f} | 1.0x |",
    ]
    for name, values in timings.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.3f} | {median / python:.1f}x |")
    text = "\n".join(lines) + "\n"
    Path(__file__).with_name("results_startup.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
