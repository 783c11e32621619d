"""Fusion quality and speed on the validation cases (held out by case) of the Harvard atlas pairs.

Every method (baselines and learned) runs through ``medfuse.fusion.fuse`` on the PNGs as loaded by
``medfuse.io.load``; metrics are computed on BT.601 luma, 0-255 (docs/metrics.md). Then the default
method streams the same pairs through ``medfuse fuse --manifest`` in a fresh process (start-up
included) to measure pairs per second.

Usage: ``python benchmarks/fusion.py [--methods average,maximum,...] [--out benchmarks/results_fusion.md]``
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "fusion2d" / "harvard"
KEYS = ("EN", "SD", "SF", "MI", "SCD", "VIF", "Qabf", "SSIM")
EXTRA = ("AG", "PSNR", "CC")


def val_pairs() -> list[tuple[str, str, Path, Path]]:
    """``(pair type, id, a, b)`` for the validation cases named in pipelines/train_fusion2d.yaml."""
    from medfuse.fusion.training.dataset import case_of

    config = yaml.safe_load((REPO / "pipelines" / "train_fusion2d.yaml").read_text())
    out = []
    for kind, cases in config["data"]["val_cases"].items():
        mods = sorted((p for p in (DATA / kind).iterdir() if p.is_dir()),
                      key=lambda p: (p.name not in ("CT", "MRI"), p.name))
        for a in sorted(mods[0].glob("*.png")):
            if case_of(a.stem) in set(cases):
                out.append((kind, a.stem, a, mods[1] / a.name))
    return out


def quality(methods: list[str], pairs: list[tuple[str, str, Path, Path]]) -> dict:
    from medfuse.fusion import fuse
    from medfuse.fusion.colour import luma
    from medfuse.io import load
    from medfuse.quantify.fusion_metrics import fusion_metrics

    loaded = [(kind, load(a), load(b)) for kind, _, a, b in pairs]
    table: dict = {}
    for method in methods:
        fuse(loaded[0][1:], method=method)  # load models, warm caches
        for kind, va, vb in loaded:
            t0 = time.perf_counter()
            fused = fuse([va, vb], method=method)
            seconds = time.perf_counter() - t0
            m = fusion_metrics(luma(fused.array, rgb=fused.is_rgb), luma(va.array, rgb=va.is_rgb),
                               luma(vb.array, rgb=vb.is_rgb))
            m["s/pair"] = seconds
            table.setdefault(kind, {}).setdefault(method, []).append(m)
    return {k: {meth: {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
                for meth, rows in v.items()} for k, v in table.items()}


def throughput(pairs: list[tuple[str, str, Path, Path]], n: int, *,
               source: Path | None = None) -> float:
    """Seconds of one fresh ``medfuse fuse --manifest`` process over ``n`` pairs (cycling ``pairs``).

    ``source``: run the medfuse package found in that folder instead (an older version, for a side
    by side comparison: ``git archive COMMIT medfuse | tar -x -C DIR``).
    """
    env = dict(os.environ, PYTHONPATH=str(source)) if source else None
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "pairs.csv"
        with manifest.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "a", "b"])
            for i in range(n):
                kind, pid, a, b = pairs[i % len(pairs)]
                writer.writerow([f"{kind}_{pid}_{i}", a, b])
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from medfuse.cli import main; "
                        "sys.exit(main())", "fuse", "--manifest", str(manifest), "-o",
                        str(Path(tmp) / "out")], check=True, capture_output=True, env=env, cwd=tmp)
        return time.perf_counter() - t0


def volume_seconds(method: str = "default", shape: tuple[int, int, int] = (300, 512, 512)) -> float:
    """Seconds for ``method`` on a CT (HU) + PET (SUV) pair of ``shape`` (z, y, x), model loaded."""
    from medfuse.fusion import fuse
    from medfuse.volume import Volume

    rng = np.random.default_rng(0)
    ct = Volume((rng.random(shape, dtype=np.float32) * 1400 - 1000).astype(np.int16),
                modality="CT", units="HU")
    pet = Volume(rng.random(shape, dtype=np.float32) * 12, modality="PT", units="SUVbw")
    small = [Volume(v.array[:8, :64, :64], modality=v.modality, units=v.units) for v in (ct, pet)]
    fuse(small, method=method)  # load the model
    t0 = time.perf_counter()
    fuse([ct, pet], method=method)
    return time.perf_counter() - t0


def markdown(results: dict, methods: list[str], default: str) -> str:
    lines = []
    for kind, rows in results.items():
        lines.append(f"\n### {kind}\n")
        lines.append("| method | " + " | ".join(KEYS + EXTRA) + " | s/pair | wins vs each anchor |")
        lines.append("|---" * (len(KEYS) + len(EXTRA) + 3) + "|")
        for method in methods:
            r = rows[method]
            wins = ""
            if method == default:
                wins = ", ".join(
                    f"{o}: {sum(r[k] > rows[o][k] for k in KEYS)}/8"
                    for o in methods if o != method and o in ("average", "maximum", "laplacian", "gff")
                )
                wins += (f"; SSIM {r['SSIM'] / rows['maximum']['SSIM']:.0%} and VIF "
                         f"{r['VIF'] / rows['maximum']['VIF']:.0%} of MAX")
            cells = " | ".join(f"{r[k]:.3f}" for k in KEYS + EXTRA)
            lines.append(f"| {method} | {cells} | {r['s/pair']:.4f} | {wins} |")
    return "\n".join(lines) + "\n"


def speed(pairs: list[tuple[str, str, Path, Path]], sizes: list[int], repeat: int,
          baseline: Path | None) -> str:
    """Markdown table of manifest throughput (fresh processes, alternating with the baseline)."""
    runs: dict[tuple[str, int], list[float]] = {}
    for _ in range(repeat):
        for n in sizes:
            for label, source in [("this version", None)] + ([("baseline", baseline)] if baseline else []):
                runs.setdefault((label, n), []).append(throughput(pairs, n, source=source))
    lines = ["| version | pairs | seconds (median of %d) | pairs/s |" % repeat, "|---|---|---|---|"]
    for (label, n), seconds in runs.items():
        median = float(np.median(seconds))
        lines.append(f"| {label} | {n} | {median:.2f} | {n / median:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="average,maximum,laplacian,gff,learned2d")
    parser.add_argument("--sizes", default="50,100,324", help="manifest sizes for throughput")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per size")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="folder holding an older medfuse package to time side by side")
    parser.add_argument("--speed-only", action="store_true", help="skip the quality tables")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    methods = args.methods.split(",")
    pairs = val_pairs()
    text = "" if args.speed_only else markdown(quality(methods, pairs), methods, "learned2d")
    text += ("\n`medfuse fuse --manifest` (default method, fresh process, start-up included):\n\n"
             + speed(pairs, [int(n) for n in args.sizes.split(",")], args.repeat, args.baseline))
    for method in ("learned2d", "learned3d"):
        text += (f"\n`{method}` on a 512x512x300 CT+PET volume pair (in process, model loaded): "
                 f"{volume_seconds(method):.1f} s\n")
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
