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
import resource
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
#: what the issue asks of a fusion that keeps both images (lower is better for "noise")
NOISE_SIGMA, SHIFTS, LOW_COUNTS = 10.0, (1, 2, 3), 30.0
KEEPS = ("MEF", "MEF-bs", "chroma", "noise", *(f"VIF-s{s}" for s in SHIFTS),
         *(f"Qabf-s{s}" for s in SHIFTS), "VIF-lowcount", "Qabf-lowcount")
#: the anchors of the goal check: all of them (complementarity), those that keep detail (VIF, ...)
ANCHORS = ("maximum", "average", "laplacian", "ifcnn", "gifnet", "matr")
DETAIL_ANCHORS = ("laplacian", "ifcnn", "gifnet")


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


def evenly_spaced(pairs: list[tuple[str, str, Path, Path]], n: int) -> list:
    """``n`` pairs of each type, evenly spaced through that type's (case-sorted) pairs."""
    out = []
    for kind in dict.fromkeys(p[0] for p in pairs):
        rows = [p for p in pairs if p[0] == kind]
        out += [rows[int(i)] for i in np.linspace(0, len(rows) - 1, min(n, len(rows)))]
    return out


def _with_array(volume, array):  # noqa: ANN001, ANN202
    return volume.with_array(np.clip(np.round(array), 0, 255).astype(np.uint8))


def _noisy(volume, rng):  # noqa: ANN001, ANN202
    """The grey input with Gaussian noise of sigma 10 (0-255), as an 8-bit image again."""
    return _with_array(volume, volume.array + rng.normal(0.0, NOISE_SIGMA, volume.array.shape))


def _low_count(volume, rng):  # noqa: ANN001, ANN202
    """The functional input as a low-count scan: Poisson noise at LOW_COUNTS for a value of 255."""
    scale = LOW_COUNTS / 255.0
    return _with_array(volume, rng.poisson(volume.array * scale) / scale)


def _shifted(volume, shift):  # noqa: ANN001, ANN202
    """The functional input moved by ``shift`` px along x and y (residual misregistration)."""
    return volume.with_array(np.roll(volume.array, (shift, shift), axis=(0, 1)))


def quality(methods: list[str], pairs: list[tuple[str, str, Path, Path]], *,
            params: dict | None = None, extra: dict | None = None, robust: bool = True) -> dict:
    """Per pair type and method, the mean of every metric over the validation pairs.

    Besides the CDDFuse-convention metrics: the complementarity (MEF-SSIM, all windows and where
    the brighter source is the smoother one), the chroma ratio (pseudo-colour inputs), the noise
    pass-through (RMS change of the fused luma over RMS of the noise added to the MRI) and VIF /
    Qabf with the other input (PET, SPECT, CT) moved by 1, 2 and 3 px, and with the functional
    input as a low-count scan (Poisson, LOW_COUNTS for 255; scored against the clean sources), as
    fractions of their value on the clean, aligned pair.
    ``params``: options of the learned method (``{"bundle": DIR}`` to score another bundle).
    ``extra``: ``{name: FusionMethod}`` run by name besides the registry's (the published anchors).
    ``robust=False``: the clean pair only (no noise, shift and low-count columns).
    """
    from medfuse.fusion import fuse
    from medfuse.fusion.colour import luma
    from medfuse.fusion.scores import chroma_ratio, complementarity
    from medfuse.io import load
    from medfuse.quantify.fusion_metrics import fusion_metrics, qabf, vif_sum

    # the MRI first: it gets the noise, the other input the shift (and the low count if functional)
    loaded = [(kind, *(load(p) for p in ((a, b) if a.parent.name == "MRI" else (b, a))))
              for kind, _, a, b in pairs]
    table: dict = {}
    for method in methods:
        options = dict(params or {}) if method == "learned2d" else {}
        if extra and method in extra:
            run = extra[method]
        else:
            def run(volumes, _method=method, _options=options):  # noqa: ANN001, ANN202
                return fuse(volumes, method=_method, **_options)
        run(loaded[0][1:])  # load models, warm caches
        rng = np.random.default_rng(0)
        for kind, va, vb in loaded:
            t0 = time.perf_counter()
            fused = run([va, vb])
            seconds = time.perf_counter() - t0
            f, a, b = (luma(v.array, rgb=v.is_rgb) for v in (fused, va, vb))
            m = fusion_metrics(f, a, b)
            scores = complementarity(f, [a, b])
            m["MEF"], m["MEF-bs"] = scores["all"], scores["brighter_smoother"]
            if vb.is_rgb:
                m["chroma"] = chroma_ratio(fused.array, vb.array)
            m["s/pair"] = seconds
            table.setdefault(kind, {}).setdefault(method, []).append(m)
            if not robust:
                continue
            noisy_a = _noisy(va, rng)
            f_noisy = luma(run([noisy_a, vb]).array, rgb=fused.is_rgb)
            added = noisy_a.array.astype(np.float64) - va.array
            m["noise"] = float(np.sqrt(np.mean((f_noisy - f) ** 2) / np.mean(added ** 2)))
            for shift in SHIFTS:
                moved = _shifted(vb, shift)
                f_moved = luma(run([va, moved]).array, rgb=fused.is_rgb)
                b_moved = luma(moved.array, rgb=moved.is_rgb)
                m[f"VIF-s{shift}"] = vif_sum(f_moved, a, b_moved) / max(m["VIF"], 1e-9)
                m[f"Qabf-s{shift}"] = qabf(f_moved, a, b_moved) / max(m["Qabf"], 1e-9)
            if not vb.is_rgb:
                continue
            low = _low_count(vb, rng)
            f_low = luma(run([va, low]).array, rgb=fused.is_rgb)
            m["VIF-lowcount"] = vif_sum(f_low, a, b) / max(m["VIF"], 1e-9)
            m["Qabf-lowcount"] = qabf(f_low, a, b) / max(m["Qabf"], 1e-9)
    return {k: {meth: {key: float(np.nanmean([r.get(key, np.nan) for r in rows])) for key in rows[0]}
                for meth, rows in v.items()} for k, v in table.items()}


#: the peer of `medfuse fuse --manifest`: a plain numpy MAX script doing the same reads and writes
NUMPY_MAX = """
import csv, sys
from pathlib import Path
import numpy as np
from PIL import Image
out = Path(sys.argv[2]); out.mkdir()
with open(sys.argv[1], newline="") as fh:
    for row in csv.DictReader(fh):
        a, b = (np.asarray(Image.open(row[k])) for k in "ab")
        a, b = (x[..., None] if x.ndim == 2 and y.ndim == 3 else x for x, y in ((a, b), (b, a)))
        Image.fromarray(np.maximum(a, b)).save(out / (row["id"] + ".png"), compress_level=1)
"""


def throughput(pairs: list[tuple[str, str, Path, Path]], n: int, *,
               source: Path | None = None, numpy_max: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one fresh ``medfuse fuse --manifest`` process over
    ``n`` pairs (cycling ``pairs``).

    ``source``: run the medfuse package found in that folder instead (an older version, for a side
    by side comparison: ``git archive COMMIT medfuse | tar -x -C DIR``). ``numpy_max``: run the
    plain numpy MAX script over the same manifest instead.
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
        command = ([sys.executable, "-c", NUMPY_MAX, str(manifest), str(Path(tmp) / "out")]
                   if numpy_max else
                   [sys.executable, "-c", "import sys; from medfuse.cli import main; "
                    "sys.exit(main())", "fuse", "--manifest", str(manifest), "-o",
                    str(Path(tmp) / "out")])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=tmp)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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


def markdown(results: dict, methods: list[str], default: str, *, level: int = 3) -> str:
    lines = []
    for kind, rows in results.items():
        lines.append(f"\n{'#' * level} {kind}\n")
        lines.append("| method | " + " | ".join(KEYS + EXTRA) + " | s/pair | wins vs each anchor |")
        lines.append("|---" * (len(KEYS) + len(EXTRA) + 3) + "|")
        for method in methods:
            r = rows[method]
            wins = ""
            if method == default:
                wins = ", ".join(
                    f"{o}: {sum(r[k] > rows[o][k] for k in KEYS)}/8"
                    for o in methods if o != method and o in ANCHORS + ("gff",)
                )
                wins += (f"; SSIM {r['SSIM'] / rows['maximum']['SSIM']:.0%} and VIF "
                         f"{r['VIF'] / rows['maximum']['VIF']:.0%} of MAX")
            cells = " | ".join(f"{r[k]:.3f}" for k in KEYS + EXTRA)
            lines.append(f"| {method} | {cells} | {r['s/pair']:.4f} | {wins} |")
        lines.append("\nWhat each method keeps of both images (MEF: MEF-SSIM over all windows; "
                     "MEF-bs: where the brighter source is the smoother one; chroma: of the "
                     "pseudo-colour source; noise: pass-through of sigma-10 noise in the MRI, lower "
                     "is better; -s1/-s2/-s3: VIF and Qabf with the other image (PET, SPECT, CT) "
                     "moved 1, 2, 3 px along x and y; "
                     "-lowcount: with the functional image as a low-count scan, Poisson at "
                     f"{LOW_COUNTS:.0f} counts "
                     "for 255, scored against the clean sources; both as fractions of the value on "
                     "the clean pair):\n")
        lines.append("| method | " + " | ".join(KEEPS) + " |")
        lines.append("|---" * (len(KEEPS) + 1) + "|")
        for method in methods:
            r = rows[method]
            lines.append(f"| {method} | " + " | ".join(
                "-" if np.isnan(r.get(k, np.nan)) else f"{r[k]:.3f}" for k in KEEPS) + " |")
    return "\n".join(lines) + "\n"


def goal_check(results: dict, default: str = "learned2d") -> str:
    """Markdown table: the issue's goals for the default method, per pair type, met or not.

    Complementarity against the best of every anchor run; VIF, Qabf and SSIM against the best
    detail-keeping anchor run (LAPLACIAN, IFCNN, GIFNet); robustness against LAPLACIAN."""
    lines = ["| pair | MEF >= best anchor | MEF-bs >= best anchor | VIF, Qabf, SSIM >= best "
             "detail anchor | SSIM >= 95 % MAX | chroma >= 0.97 | noise <= 0.6 | shift 1-3 px, "
             "low-count >= LAPLACIAN |",
             "|---|---|---|---|---|---|---|---|"]

    def mark(ok: bool, text: str) -> str:
        return ("met: " if ok else "NOT met: ") + text

    for kind, rows in results.items():
        r, lap = rows[default], rows["laplacian"]
        anchors = [m for m in ANCHORS if m in rows]
        cells = []
        for key in ("MEF", "MEF-bs"):
            best = max(anchors, key=lambda m: rows[m][key])
            cells.append(mark(r[key] >= rows[best][key], f"{r[key]:.3f} vs {best} {rows[best][key]:.3f}"))
        detail = [m for m in DETAIL_ANCHORS if m in rows]
        short = []
        for key in ("VIF", "Qabf", "SSIM"):
            best = max(detail, key=lambda m: rows[m][key])
            if r[key] < rows[best][key]:
                short.append(f"{key} {r[key]:.3f} vs {best} {rows[best][key]:.3f}")
        cells.append(mark(not short, "all three" if not short else "below on " + ", ".join(short)))
        share = r["SSIM"] / rows["maximum"]["SSIM"]
        cells.append(mark(share >= 0.95, f"{share:.0%}"))
        chroma = r.get("chroma", np.nan)
        cells.append("-" if np.isnan(chroma) else mark(chroma >= 0.97, f"{chroma:.3f}"))
        cells.append(mark(r["noise"] <= 0.6, f"{r['noise']:.2f}"))
        robust = [k for k in KEEPS[4:] if r.get(k, np.nan) < lap.get(k, np.nan) - 0.005]
        cells.append(mark(not robust, "all" if not robust else "below on " + ", ".join(
            f"{k} {r[k]:.3f} vs {lap[k]:.3f}" for k in robust)))
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def speed(pairs: list[tuple[str, str, Path, Path]], sizes: list[int], repeat: int,
          baseline: Path | None) -> str:
    """Markdown table of manifest throughput: fresh processes, alternating with the plain numpy
    MAX script (and the baseline version, if given), as ratios to the numpy script's time: wall
    time, and CPU time (user + system), which other jobs on a shared machine change far less."""
    peers = [("numpy MAX script", None, True), ("this version", None, False)]
    peers += [("baseline", baseline, False)] if baseline else []
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
    load_before = os.getloadavg()[0]
    for _ in range(repeat):
        for n in sizes:
            for label, source, numpy_max in peers:
                runs.setdefault((label, n), []).append(
                    throughput(pairs, n, source=source, numpy_max=numpy_max))
    lines = [f"| version | pairs | wall s (median of {repeat}) | pairs/s | x numpy MAX script "
             "| CPU s (median) | CPU x numpy MAX script |", "|---|---|---|---|---|---|---|"]
    for (label, n), times in runs.items():
        wall, cpu = (float(np.median([t[i] for t in times])) for i in (0, 1))
        peer = [float(np.median([t[i] for t in runs[("numpy MAX script", n)]])) for i in (0, 1)]
        lines.append(f"| {label} | {n} | {wall:.2f} | {n / wall:.1f} | {wall / peer[0]:.2f} "
                     f"| {cpu:.2f} | {cpu / peer[1]:.2f} |")
    lines.append(f"\nLoad average (1 min, {os.cpu_count()} CPUs) {load_before:.1f} before the runs, "
                 f"{os.getloadavg()[0]:.1f} after.")
    return "\n".join(lines) + "\n"


#: held-out slices of the picture grid (hot PET/SPECT over MRI folds, bone next to soft tissue),
#: each with the top-left corner (y, x) of the 128 x 128 region its zoomed grid shows
GRID = (("PET-MRI", "41030", (96, 64)), ("PET-MRI", "41045", (100, 64)),
        ("SPECT-MRI", "3015", (64, 64)), ("SPECT-MRI", "35012", (64, 64)),
        ("CT-MRI", "33010", (40, 64)))
GRID_METHODS = (("MedFuse", "learned2d"), ("MAX", "maximum"), ("LAPLACIAN", "laplacian"))


def picture_grid(path: Path, *, zoom: bool = False, methods: tuple = GRID_METHODS,
                 extra: dict | None = None) -> Path:
    """A PNG grid of held-out pairs: the two sources, then ``methods`` (``(label, name)``: MedFuse,
    MAX and LAPLACIAN), side by side; ``extra``: ``{name: FusionMethod}`` besides the registry's.

    ``zoom``: each tile shows its row's 128 x 128 region at twice the size (nearest neighbour).
    """
    from PIL import Image, ImageDraw

    from medfuse.fusion import fuse
    from medfuse.fusion.training.dataset import modality_folders
    from medfuse.io import load

    size, label = 256, 18
    columns = ["source A", "source B"] + [name for name, _ in methods]
    extra = extra or {}
    sheet = Image.new("RGB", (size * len(columns), label + size * len(GRID)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, name in enumerate(columns):
        draw.text((col * size + 4, 3), name, fill="black")
    for row, (kind, stem, (y0, x0)) in enumerate(GRID):
        files = [folder / f"{stem}.png" for folder in modality_folders(DATA / kind)]
        sources = [load(f) for f in files]
        tiles = [v.array for v in sources] + [
            (extra[m](sources) if m in extra else fuse(sources, method=m)).array for _, m in methods]
        for col, tile in enumerate(tiles):
            image = Image.fromarray(tile).convert("RGB")
            if zoom:
                image = image.crop((x0, y0, x0 + 128, y0 + 128)).resize((size, size), Image.NEAREST)
            sheet.paste(image, (col * size, label + row * size))
        draw.text((4, label + row * size + 4), f"{kind} {stem}" + (" (x2)" if zoom else ""),
                  fill="yellow")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


HEADER = """# Fusion benchmark: validation cases held out by case (issue 17)

Written by `python benchmarks/fusion.py` (what was learnt from the runs is in `notes_fusion.md`).
Data: Harvard atlas pairs in `../shared/data/fusion2d/harvard`; the validation cases are those named
in `pipelines/train_fusion2d.yaml` and were never trained on: CT-MRI case 33 (17 pairs), PET-MRI case 41
(93 pairs), SPECT-MRI cases 3 and 35 (52 pairs). Every method runs through `medfuse.fusion.fuse` on the
PNGs as `medfuse.io.load` reads them; metrics on the BT.601 luma, 0-255, of the written 8-bit output,
in the conventions of `docs/metrics.md` (MI in bits, SSIM as a sum with data_range 255). Means over
pairs. The complementarity score MEF-SSIM (`medfuse/fusion/scores.py`, Ma, Zeng & Wang 2015, 11x11
Gaussian windows) is reported over all windows (MEF) and over the windows where the brighter source is
the smoother one (MEF-bs: its local mean is the largest, its local contrast below another source's,
which has a standard deviation of at least 4 grey levels): the places where MAX loses the darker
image's structure. Every method gets the same colour recombination (chroma 0.975 of the source).
Noise: sigma 10 (0-255) Gaussian noise added to the grey input. Classical anchors (MAX, AVG,
LAPLACIAN, GFF) on all validation pairs; the published networks (IFCNN, GIFNet, MATR), run from their
authors' checkouts and weights where the variables of `benchmarks/fusion_anchors.py` point at them,
on a subsample (they take 0.5-10 s a pair on this CPU), side by side with the others on the same
pairs. MdAFuse's published outputs and CDDFuse's published table are not here (not available
offline).

Machine: the shared 2-core CPU of this workspace, used by four other engineers' jobs at the same
time: timings are compared side by side in one run, as ratios.
"""


def _quality_cached(methods: list[str], pairs: list, cache: Path | None, label: str,
                    extra: dict | None = None, robust: bool = True) -> dict:
    """:func:`quality`, taking each method's rows from ``cache`` (JSON of an earlier run of the
    same code and pairs) where present, and adding what it computes to it."""
    import json

    stored = json.loads(cache.read_text()) if cache and cache.is_file() else {}
    done = stored.get(label, {})
    for method in [m for m in methods if not any(m in rows for rows in done.values())]:
        for kind, rows in quality([method], pairs, extra=extra, robust=robust).items():
            done.setdefault(kind, {}).update(rows)
        if cache:  # after each method: an interrupted run keeps what it finished
            stored[label] = done
            cache.write_text(json.dumps(stored, indent=1))
    return {kind: {m: rows[m] for m in methods} for kind, rows in done.items()}


def main() -> None:
    from fusion_anchors import anchor_methods

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="average,maximum,laplacian,gff,learned2d")
    parser.add_argument("--anchor-pairs", type=int, default=6,
                        help="the published anchors (fusion_anchors.py) run on this many validation "
                             "pairs of each type (evenly spaced), side by side with MAX, AVG, "
                             "LAPLACIAN and learned2d")
    parser.add_argument("--cache", type=Path, default=None,
                        help="JSON of per-method results: methods found there are not rerun "
                             "(delete it when the code of a method changes)")
    parser.add_argument("--sizes", default="100", help="manifest sizes for throughput")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per size")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="folder holding an older medfuse package to time side by side")
    parser.add_argument("--speed-only", action="store_true", help="skip the quality tables")
    parser.add_argument("--grid", type=Path, default=None,
                        help="write the held-out picture grids (docs/images/fusion_grid.png, its "
                             "_zoom.png; _anchors[_zoom].png with the published anchors found) and exit")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results_fusion.md"))
    args = parser.parse_args()
    methods = args.methods.split(",")
    pairs = val_pairs()
    if args.grid:
        picture_grid(args.grid)
        picture_grid(args.grid.with_name(args.grid.stem + "_zoom.png"), zoom=True)
        anchors = anchor_methods()
        if anchors:
            shown = (("MedFuse", "learned2d"), *((name.upper(), name) for name in anchors))
            for suffix, zoom in (("_anchors.png", False), ("_anchors_zoom.png", True)):
                picture_grid(args.grid.with_name(args.grid.stem + suffix), zoom=zoom,
                             methods=shown, extra=anchors)
        return
    from medfuse.fusion.learned import BUNDLES, WEIGHTS, sha256

    weights = sha256((BUNDLES / "fusion2d" / WEIGHTS).read_bytes())
    text = HEADER + (f"\nNetwork: the shipped bundle `fusion2d` (`{WEIGHTS}` sha256 {weights[:12]}...), "
                     f"run {time.strftime('%Y-%m-%d', time.gmtime())}.\n")
    if not args.speed_only:
        results = _quality_cached(methods, pairs, args.cache, "all")
        text += markdown(results, methods, "learned2d")
        text += "\n### Goal check (issue 17), all validation pairs\n\n" + goal_check(results)
        skipped: list[str] = []
        anchors = anchor_methods(skipped.append)
        sub = evenly_spaced(pairs, args.anchor_pairs)
        text += (f"\n### Published anchors, {args.anchor_pairs} validation pairs of each type\n\n"
                 "Evenly spaced through the validation pairs: "
                 + ", ".join(f"{k} {pid}" for k, pid, *_ in sub) + ".\n\n"
                 + "".join(f"* {line}\n" for line in skipped))
        if anchors:
            label = f"per_type{args.anchor_pairs}"
            ours = ["average", "maximum", "laplacian", "learned2d"]
            sub_results = _quality_cached(ours, sub, args.cache, label)
            published = _quality_cached(list(anchors), sub, args.cache, label, extra=anchors,
                                        robust=False)
            for kind, rows in published.items():
                sub_results[kind].update(rows)
            names = ["average", "maximum", "laplacian", *anchors, "learned2d"]
            text += ("\nRun from their authors' checkouts (`benchmarks/fusion_anchors.py`): "
                     + ", ".join(anchors) + "; on the clean pairs only (noise, shift and low-count "
                     "columns '-': 1-13 s a fusion on this CPU).\n"
                     + markdown(sub_results, names, "learned2d", level=4)
                     + "\n#### Goal check (issue 17) against every anchor run, same pairs\n\n"
                     + goal_check(sub_results))
    text += ("\n`medfuse fuse --manifest` (default method, fresh process, start-up included):\n\n"
             + speed(pairs, [int(n) for n in args.sizes.split(",")], args.repeat, args.baseline))
    text += ("\n`learned2d` on a 512x512x300 CT+PET volume pair (in process, model loaded, RGB "
             f"output): {volume_seconds('learned2d'):.1f} s\n")
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
