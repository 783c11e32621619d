"""Deformable registration against exact truth: MedFuse's deformable presets side by side with
elastix's default rigid + B-spline maps (itk-elastix) and ANTsPy's SyN, each as a fresh process.

Each pair is made from a real image (the STS CT and MR, the SPM12 T1 template) by
``medfuse.registration.synthetic.deformed_pair``: the fixed image is the real image warped by a
known smooth B-spline field (cubic, 40 mm control points, random coefficients scaled to a mean
displacement of 4 mm over the anatomy), the moving image is the real image itself with a
non-monotonic, T2/PD-like change of contrast and noise, so that only the warp separates them. The
warp is the exact truth: it maps fixed points to moving points, as every method's answer does. A "no warp" pair (contrast and
noise only) measures harm: how far a method moves voxels where nothing moved.

Every method runs as a whole command in a fresh process on NIfTI files, with 2 threads (ITK's
``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS``): ``medfuse register F M -o DIR --preset NAME`` and
its ``DIR/transform.tfm``; a script calling ``itk.elastix_registration_method`` with
``GetDefaultParameterMap("rigid")`` and ``("bspline")`` (its TransformParameters converted by
MedFuse's converter, which the tests check against transformix); a script calling
``ants.registration(type_of_transform="SyN")`` (its warp field and affine read by SimpleITK).
Metrics over the fixed image's anatomy, every voxel: mean and 95th-percentile TRE (distance
between where the answer and the truth send the voxel), the answer's Jacobian determinant range
and the fraction of voxels where it folds (<= 0), wall time and CPU time of the process.

Run from the repository root (about 15 minutes on 2 idle cores; results are kept in a cache file
after each run, so an interrupted run resumes)::

    nice -n 10 .venv/bin/python benchmarks/deformable.py --out benchmarks/results_deformable.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medfuse.io import load, write_nifti  # noqa: E402
from medfuse.registration.synthetic import DeformedPair, deformed_pair, displacement  # noqa: E402
from medfuse.registration.transforms import chain_to_sitk  # noqa: E402
from medfuse.volume import Volume  # noqa: E402

DATA = Path(os.environ.get("MEDFUSE_TEST_DATA", REPO.parent / "shared" / "data")) / "volumes"
THREADS = "2"


# ----------------------------------------------------------------------------------- pairs
def images() -> dict[str, tuple[Volume, np.ndarray]]:
    """The real images the pairs are made from, each with its anatomy mask."""
    out = {}
    sts = DATA / "sts"
    ct = load(sts / "STS_001/CT/nifti/image/image.nii.gz", modality="CT", units="HU")
    out["STS_001 CT (0.98 x 0.98 x 3.3 mm)"] = (ct, ct.array > -300)
    mr = load(sts / "STS_002/MR_T1/nifti/image/image.nii.gz", modality="MR")
    out["STS_002 MR T1 (0.98 x 0.98 x 3.3 mm)"] = (mr, mr.array > 0.1 * np.percentile(mr.array, 99))
    t1 = load(DATA / "spm12_templates/OldNorm/T1.nii", modality="MR")
    out["SPM12 T1 (2 mm)"] = (t1, t1.array > 0.2 * t1.array.max())
    return out


# ----------------------------------------------------------------------------------- methods
ELASTIX_SCRIPT = """
import json, sys, itk
fixed, moving, out = itk.imread(sys.argv[1], itk.F), itk.imread(sys.argv[2], itk.F), sys.argv[3]
po = itk.ParameterObject.New()
po.AddParameterMap(po.GetDefaultParameterMap("rigid"))
po.AddParameterMap(po.GetDefaultParameterMap("bspline"))
registered, result = itk.elastix_registration_method(fixed, moving, parameter_object=po,
                                                     log_to_console=False)
itk.imwrite(registered, out + "/registered.nii.gz")
maps = [{k: list(v) for k, v in dict(result.GetParameterMap(i)).items()}
        for i in range(result.GetNumberOfParameterMaps())]
open(out + "/maps.json", "w").write(json.dumps(maps))
"""

ANTS_SCRIPT = """
import shutil, sys, ants
fixed, moving, out = ants.image_read(sys.argv[1]), ants.image_read(sys.argv[2]), sys.argv[3]
found = ants.registration(fixed, moving, type_of_transform="SyN")
ants.image_write(found["warpedmovout"], out + "/registered.nii.gz")
warp, affine = found["fwdtransforms"]
shutil.move(warp, out + "/warp.nii.gz")
shutil.move(affine, out + "/affine.mat")
for path in found["invtransforms"]:  # ANTs leaves its files in /tmp
    if path != affine:
        shutil.os.remove(path)
"""


def medfuse_command(preset: str) -> list[str]:
    exe = REPO / ".venv/bin/medfuse"
    return [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else
            ["-m", "medfuse.cli"]), "register", "{fixed}", "{moving}", "-o", "{out}",
            "--preset", preset, "--quiet"]


def read_medfuse(out: Path) -> sitk.Transform:
    return sitk.ReadTransform(str(out / "transform.tfm"))


def read_elastix(out: Path) -> sitk.Transform:
    return chain_to_sitk(json.loads((out / "maps.json").read_text()))


def read_ants(out: Path) -> sitk.Transform:
    field = sitk.Cast(sitk.ReadImage(str(out / "warp.nii.gz")), sitk.sitkVectorFloat64)
    warp = sitk.DisplacementFieldTransform(field)
    return sitk.CompositeTransform([warp, sitk.ReadTransform(str(out / "affine.mat"))])


ELASTIX = "elastix default rigid + B-spline"
#: method name -> (command with {fixed}, {moving}, {out}; reader of the answer from {out})
METHODS = {
    "MedFuse bspline": (medfuse_command("bspline"), read_medfuse),
    "MedFuse rigid_affine_bspline": (medfuse_command("rigid_affine_bspline"), read_medfuse),
    ELASTIX: (
        [sys.executable, "-c", ELASTIX_SCRIPT, "{fixed}", "{moving}", "{out}"], read_elastix),
    "ANTsPy SyN": ([sys.executable, "-c", ANTS_SCRIPT, "{fixed}", "{moving}", "{out}"], read_ants),
}


def run_method(name: str, fixed: Path, moving: Path, out: Path) -> tuple[sitk.Transform, float, float]:
    """One fresh process of ``name``; its answer, wall time and CPU time (s)."""
    command, reader = METHODS[name]
    paths = {"{fixed}": str(fixed), "{moving}": str(moving), "{out}": str(out)}
    args = [paths.get(a, a) for a in command]
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": THREADS,
           "OMP_NUM_THREADS": THREADS, "ANTS_RANDOM_SEED": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed: {done.stderr.strip()[-2000:]}")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return reader(out), wall, cpu


def scores(found: sitk.Transform, case: DeformedPair) -> dict[str, float]:
    """TRE (mean, 95th percentile) against the truth, the Jacobian range and folding over the
    anatomy of the fixed image."""
    fixed, anatomy = case.fixed, case.anatomy
    answer = displacement(found, fixed)
    error = np.linalg.norm(answer - displacement(case.truth, fixed), axis=-1)[anatomy]
    field = sitk.GetImageFromArray(answer, isVector=True)
    field.CopyInformation(fixed.to_sitk())
    det = sitk.GetArrayFromImage(sitk.DisplacementFieldJacobianDeterminant(field))[anatomy]
    return dict(tre_mean=float(error.mean()), tre_p95=float(np.percentile(error, 95)),
                jac_min=float(det.min()), jac_max=float(det.max()),
                folding=float(np.mean(det <= 0)))


# ----------------------------------------------------------------------------------- running
def cases(names: list[str], seeds: int) -> list[tuple[str, float, int]]:
    """(image name, mean displacement of the truth, seed) of every pair: the first seed and the
    no-warp pairs of every image first, so that an interrupted run has covered every image."""
    out = [(name, 4.0, 1) for name in names] + [(name, 0.0, 1) for name in names]  # no warp: harm
    return out + [(name, 4.0, seed) for seed in range(2, seeds + 1) for name in names]


def render(cache: dict) -> str:
    """Markdown tables from every result gathered so far."""
    names = [m for m in ["no registration", *METHODS] if any(m in c for c in cache.values())]
    text = ["## Deformable registration against exact truth", "",
            "Fixed: a real image warped by a known smooth B-spline field (40 mm control points); "
            "moving: the same real image with a non-monotonic T2/PD-like contrast and 3 % noise. "
            "Per pair and method: mean / 95th-percentile TRE over the anatomy's voxels (mm), the "
            "Jacobian determinant range there (folded share when any), and the wall time of the "
            "whole command in a fresh process with 2 threads (CPU time in brackets). The methods "
            "take turns on each pair, in one run on the shared 2-core machine: compare columns.",
            "", "| pair | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key, per in cache.items():
        cells = []
        for m in names:
            r = per.get(m)
            if r is None:
                cells.append("")
                continue
            cell = f"{r['tre_mean']:.2f} / {r['tre_p95']:.2f} mm"
            if m != "no registration":
                cell += f", J {r['jac_min']:.2f}-{r['jac_max']:.2f}"
                cell += f" (folds {100 * r['folding']:.2g} %)" if r["folding"] > 0 else ""
                cell += f", {r['wall']:.1f} s ({r['cpu']:.1f})"
            cells.append(cell)
        text.append(f"| {key} | " + " | ".join(cells) + " |")
    text += ["", "### Summary over the warped pairs", "",
             "| method | mean TRE | worst pair's mean TRE | folded pairs | median time | "
             "time / elastix's, wall (CPU) |", "|---|---|---|---|---|---|"]
    warped = [per for key, per in cache.items() if "no warp" not in key]
    for m in names:
        rs = [per[m] for per in warped if m in per]
        if not rs:
            continue
        row = (f"| {m} | {statistics.mean(r['tre_mean'] for r in rs):.2f} mm | "
               f"{max(r['tre_mean'] for r in rs):.2f} mm | ")
        if m == "no registration":
            text.append(row + "| | |")
            continue
        text.append(row + f"{sum(r['folding'] > 0 for r in rs)}/{len(rs)} | "
                    f"{statistics.median(r['wall'] for r in rs):.1f} s | "
                    f"{_ratio(warped, m, 'wall')} ({_ratio(warped, m, 'cpu')}) |")
    return "\n".join(text) + "\n"


def _ratio(pairs: list[dict], method: str, key: str) -> str:
    """The median over ``pairs`` of ``method``'s ``key`` (time) over elastix's on the same pair."""
    ratios = [per[method][key] / per[ELASTIX][key] for per in pairs
              if method in per and ELASTIX in per]
    return f"{statistics.median(ratios):.2f}x" if ratios else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the markdown tables here (after each run)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "medfuse_deformable_bench.json")
    parser.add_argument("--seeds", type=int, default=2, help="warps per image")
    parser.add_argument("--only", default="", help="run only methods whose name contains this")
    parser.add_argument("--images", default="", help="only images whose name contains this")
    args = parser.parse_args()
    cache = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    sources = images()
    chosen = [m for m in METHODS if args.only.lower() in m.lower()]
    for name, mean_mm, seed in cases(list(sources), args.seeds):
        if args.images.lower() not in name.lower():
            continue
        key = f"{name}, " + (f"warp {mean_mm:g} mm, seed {seed}" if mean_mm else "no warp")
        per = cache.setdefault(key, {})
        todo = [m for m in chosen if m not in per]
        if not todo:
            continue
        case = deformed_pair(*sources[name], seed=seed, mean_mm=mean_mm)
        per["no registration"] = scores(sitk.Transform(3, sitk.sitkIdentity), case)
        with tempfile.TemporaryDirectory(prefix="medfuse_deformable_") as tmp:
            # outputs beside the inputs' folder: medfuse refuses to write into an input folder
            fixed, moving = Path(tmp) / "in/fixed.nii.gz", Path(tmp) / "in/moving.nii.gz"
            fixed.parent.mkdir()
            write_nifti(case.fixed, fixed)
            write_nifti(case.moving, moving)
            for m in todo:
                found, wall, cpu = run_method(m, fixed, moving, Path(tmp) / m.replace(" ", "_"))
                per[m] = {**scores(found, case), "wall": wall, "cpu": cpu}
                print(f"{key:<55} {m:<34} TRE {per[m]['tre_mean']:.2f} / {per[m]['tre_p95']:.2f}"
                      f" mm, J {per[m]['jac_min']:.2f}-{per[m]['jac_max']:.2f}, {wall:.1f} s",
                      flush=True)
                args.cache.write_text(json.dumps(cache, indent=1))
                if args.out:
                    args.out.write_text(render(cache), encoding="utf-8")
    print(render(cache))


if __name__ == "__main__":
    main()
