"""Registration benchmark: MedFuse against elastix's default rigid map (and the same with 3
resolutions), SimpleITK's Mattes-MI recipe (1 % and 10 % samples) and ANTsPy's ``Rigid``, from
known rigid perturbations of real volumes.

Run from the repository root (``make bench`` runs it so; about 35 minutes on 2 idle cores, and an
hour more for ``--draws 8``; results are kept in a cache file after each case, so an interrupted run
resumes)::

    .venv/bin/python benchmarks/registration.py --out benchmarks/results_registration.md \
        --wide --command --pet-ct --draws 8

``--spread rigid,bspline`` adds the start independence of MedFuse's presets on the real MR/CT
pairs (9 starts each; about 20 s rigid, 5 minutes bspline). What the numbers show is written by
hand in ``benchmarks/notes_registration.md``.

Cases (``../shared/data/volumes``): SPM12 T2, PET and SPECT templates onto T1 (exact truth: the
identity), the bundled sample phantom's PET and MR onto its CT (exact truth: ``truth.json``, undone
by re-placing the moving image, so that the truth is the identity here too), the PET and MR of
each ``sts`` patient onto its CT (PET: the scanner alignment is the reference; MR: no truth, so
only "back to its own answer" is measured), and a derived 1.1 mm pair with exact truth (a T1-like
copy of the STS_001 CT, ``mr_like_copy``). Each moving image is perturbed by a random rigid
transform by changing its geometry (no resampling, so nothing is lost), and TRE is the median
distance, over 2000 points of the fixed image's anatomy, between where the result and the truth
send them. Every method runs single-threaded.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")

import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medfuse.demo import truth_transforms  # noqa: E402
from medfuse.io import load  # noqa: E402
from medfuse.registration import quality  # noqa: E402
from medfuse.registration.transforms import affine_matrix, compose  # noqa: E402
from medfuse.volume import Volume  # noqa: E402

DATA = Path(os.environ.get("MEDFUSE_TEST_DATA", REPO.parent / "shared" / "data")) / "volumes"
Method = Callable[[Volume, Volume], sitk.Transform]


# ----------------------------------------------------------------------------------- cases
def cases() -> list[dict]:
    """(name, fixed, moving, truth kind) for every pair of the benchmark."""
    out = []
    spm = DATA / "spm12_templates" / "OldNorm"
    t1 = load(spm / "T1.nii", modality="MR")
    for name, mod in (("T2", "MR"), ("PET", "PT"), ("SPECT", "NM")):
        out.append(dict(name=f"SPM12 {name} -> T1", fixed=t1, moving=load(spm / f"{name}.nii",
                        modality=mod), truth="exact", anatomy=t1.array > 0.2 * t1.array.max()))
    study = REPO / "sample_data" / "study"  # the bundled phantom: PET and MR moved by a known truth
    truth = truth_transforms(json.loads((study / "truth.json").read_text()))
    phantom_ct = load(study / "ct" / "dicom")
    for name in ("PET", "MR"):
        moving = perturbed(load(study / name.lower() / "dicom"), truth[name.lower()])
        out.append(dict(name=f"Sample phantom {name} -> CT", fixed=phantom_ct, moving=moving,
                        truth="exact", anatomy=phantom_ct.array > -500))
    cts = {}
    for patient in sorted((DATA / "sts").glob("STS_*")):
        ct = cts[patient.name] = load(patient / "CT/nifti/image/image.nii.gz", modality="CT",
                                      units="HU")
        body = ct.array > -300
        for folder, mod, truth in (("PET", "PT", "scanner"), ("MR_T1", "MR", "none")):
            moving = load(patient / folder / "nifti/image/image.nii.gz", modality=mod)
            out.append(dict(name=f"{patient.name} {folder} -> CT", fixed=ct, moving=moving,
                            truth=truth, anatomy=body))
    ct = cts["STS_001"]
    out.append(dict(name="STS_001 MR-like copy -> CT", fixed=ct, moving=mr_like_copy(ct),
                    truth="exact", anatomy=ct.array > -300))
    return out


def mr_like_copy(ct: Volume) -> Volume:
    """An exact-truth pair at about 1 mm, which the data lack: ``ct`` with its tissue classes given
    T1-like values (air and bone dark, fat bright, muscle grey), smoothed (sigma 0.7 mm),
    resampled onto a 1.1 x 1.1 x 1.6 mm grid offset by a fraction of a voxel, with noise (SD 4 of
    200). It shares the CT's anatomy exactly, so the truth is the identity; a derived pair, not
    an acquisition."""
    values = np.interp(ct.array.astype(np.float32), [-1000, -200, -100, 40, 300, 1500],
                       [0, 30, 200, 90, 40, 10]).astype(np.float32)
    image = sitk.SmoothingRecursiveGaussian(ct.with_array(values).to_sitk(), 0.7)
    spacing = (1.1, 1.1, 1.6)
    grid = sitk.Image([int(round(n * s / t)) for n, s, t in zip(image.GetSize(), image.GetSpacing(),
                                                                  spacing)], sitk.sitkFloat32)
    grid.SetSpacing(spacing)
    grid.SetDirection(image.GetDirection())
    grid.SetOrigin(image.TransformContinuousIndexToPhysicalPoint((0.34, -0.42, 0.28)))
    copy = sitk.GetArrayFromImage(sitk.Resample(image, grid, sitk.Transform(), sitk.sitkBSpline))
    copy += np.random.default_rng(0).normal(0.0, 4.0, copy.shape).astype(np.float32)
    return Volume(copy, spacing=spacing, origin=grid.GetOrigin(), direction=ct.direction,
                  modality="MR")


def perturbation(rng: np.random.Generator, centre: np.ndarray, degrees: float,
                 mm: float) -> sitk.Euler3DTransform:
    """A random rigid transform about ``centre``: uniform angles and shifts in +-range per axis."""
    angles = np.radians(rng.uniform(-degrees, degrees, 3))
    return sitk.Euler3DTransform(tuple(centre), *angles, tuple(rng.uniform(-mm, mm, 3)))


def perturbed(moving: Volume, t: sitk.Transform) -> Volume:
    """``moving`` re-placed so that its value at y is the original's at t(y) (exact, no resampling)."""
    m = np.linalg.inv(affine_matrix(t))
    a, b = m[:3, :3], m[:3, 3]
    return Volume(moving.array, spacing=moving.spacing, origin=tuple(a @ np.asarray(moving.origin) + b),
                  direction=a @ moving.direction, modality=moving.modality, units=moving.units)


# ----------------------------------------------------------------------------------- methods
def medfuse_method(fixed: Volume, moving: Volume, *, seed: int | None = None) -> sitk.Transform:
    from medfuse.registration import register

    return register(fixed, moving, threads=1, seed=seed).transform


def elastix_default(fixed: Volume, moving: Volume, *, resolutions: int | None = None,
                    seed: int | None = None) -> sitk.Transform:
    """Elastix's default rigid map (4 resolutions), or the same with ``resolutions`` levels;
    ``seed`` replaces elastix's fixed random seed."""
    from medfuse.registration import _elastix
    from medfuse.registration.transforms import chain_to_sitk

    pm = _elastix.default_map("rigid")
    pm["WriteResultImage"] = ["false"]
    if resolutions is not None:
        pm["NumberOfResolutions"] = [str(resolutions)]
    if seed is not None:
        pm["RandomSeed"] = [str(seed)]
    return chain_to_sitk(_elastix.run(_elastix.to_itk(fixed), _elastix.to_itk(moving), [pm],
                                      threads=1))


def sitk_recipe(fixed: Volume, moving: Volume, *, percentage: float = 0.01) -> sitk.Transform:
    """SimpleITK's standard rigid recipe (its registration notebooks): geometry-centred start,
    Mattes MI with 50 bins on a random 1 % sample, gradient descent, 3-level pyramid."""
    f = sitk.Cast(fixed.to_sitk(), sitk.sitkFloat32)
    m = sitk.Cast(moving.to_sitk(), sitk.sitkFloat32)
    start = sitk.CenteredTransformInitializer(f, m, sitk.Euler3DTransform(),
                                              sitk.CenteredTransformInitializerFilter.GEOMETRY)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(percentage, seed=1)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsGradientDescent(learningRate=1.0, numberOfIterations=100,
                                      convergenceMinimumValue=1e-6, convergenceWindowSize=10)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([4, 2, 1])
    reg.SetSmoothingSigmasPerLevel([2, 1, 0])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    reg.SetInitialTransform(start, inPlace=False)
    return reg.Execute(f, m)


def ants_rigid(fixed: Volume, moving: Volume, *, seed: int | None = None) -> sitk.Transform:
    """ANTsPy ``registration(type_of_transform="Rigid")``; its forward transform maps fixed points
    to moving points like ITK's. ANTs seeds its sampler from the clock unless ``seed`` is given
    (through its ``ANTS_RANDOM_SEED`` variable)."""
    import ants

    def to_ants(v: Volume):
        img = ants.from_numpy(np.asarray(v.array, np.float32).transpose(2, 1, 0).copy(),
                              origin=list(v.origin), spacing=list(v.spacing),
                              direction=np.asarray(v.direction))
        return img

    if seed is not None:
        os.environ["ANTS_RANDOM_SEED"] = str(seed)
    try:
        out = ants.registration(to_ants(fixed), to_ants(moving), type_of_transform="Rigid")
    finally:
        os.environ.pop("ANTS_RANDOM_SEED", None)
    transform = sitk.ReadTransform(out["fwdtransforms"][0])
    for path in {*out["fwdtransforms"], *out["invtransforms"]}:  # ANTs leaves them in /tmp
        Path(path).unlink(missing_ok=True)
    return transform


MEDFUSE = "MedFuse rigid"


def methods() -> dict[str, Method]:
    found: dict[str, Method] = {
        MEDFUSE: medfuse_method,
        "elastix default rigid": elastix_default,
        "elastix, 3 resolutions": functools.partial(elastix_default, resolutions=3),
        "SimpleITK MI recipe (1 %)": sitk_recipe,
        "SimpleITK MI recipe (10 %)": functools.partial(sitk_recipe, percentage=0.10),
    }
    try:
        import ants  # noqa: F401

        found["ANTsPy Rigid"] = ants_rigid
    except ImportError:
        print("antspyx not installed: ANTsPy column skipped", file=sys.stderr)
    return found


# ----------------------------------------------------------------------------------- running
def run_case(case: dict, chosen: dict[str, Method], *, n: int, degrees: float, mm: float,
             seed: int, own_answer: bool = True) -> dict[str, dict]:
    """Every method in ``chosen`` on ``n`` perturbations of ``case``; the methods take turns on each
    perturbed image, so that a burst of load on the shared machine slows them alike. With
    ``own_answer``, also how far each lands from its own result from the unperturbed start."""
    fixed, moving = case["fixed"], case["moving"]
    points = quality.sample_points(fixed, case["anatomy"], n=2000)
    identity = sitk.Euler3DTransform()
    own = {name: method(fixed, moving) for name, method in chosen.items()} if own_answer else {}
    out = {name: dict(tre=[], own=[], shift=[], time=[], cpu=[]) for name in chosen}
    rng = np.random.default_rng(seed)
    for _ in range(n):
        p = perturbation(rng, fixed.center(), degrees, mm)
        moved = perturbed(moving, p)
        for name, method in chosen.items():
            r = out[name]
            t0, c0 = time.perf_counter(), time.process_time()
            found = method(fixed, moved)
            r["time"].append(time.perf_counter() - t0)
            r["cpu"].append(time.process_time() - c0)
            # found maps fixed -> perturbed moving; p maps perturbed -> original moving
            total = compose([p, found])
            r["tre"].append(float(np.median(quality.tre_against_truth(total, identity, points))))
            r["shift"].append(_mean_shift(total, points))
            if own:
                r["own"].append(float(np.median(quality.tre_against_truth(total, own[name],
                                                                          points))))
    for name, transform in own.items():
        out[name]["own_at_truth"] = float(np.median(quality.tre_against_truth(transform, identity,
                                                                               points)))
    return out


def _mean_shift(transform: sitk.Transform, points: np.ndarray) -> list[float]:
    """The mean displacement (x, y, z in mm) that the linear ``transform`` gives ``points``."""
    m = affine_matrix(transform)
    return (points @ m[:3, :3].T + m[:3, 3] - points).mean(axis=0).tolist()


#: the methods whose random draws the seed study compares (each takes ``seed=``)
SEEDED = (MEDFUSE, "elastix default rigid", "elastix, 3 resolutions", "ANTsPy Rigid")


def draws(case: dict, chosen: dict[str, Method], *, seeds: int, n: int, seed: int
          ) -> dict[str, dict[str, list]]:
    """Per method, under each of ``seeds`` random seeds, the median TRE and the mean shift of
    ``n`` perturbations of ``case`` (the same perturbations for every seed and method): a table
    cell is one draw of the optimiser's sampling; these are several."""
    out: dict[str, dict[str, list]] = {name: dict(tre=[], shift=[]) for name in chosen}
    for draw in range(1, seeds + 1):
        cell = run_case(case, {name: functools.partial(method, seed=draw)
                               for name, method in chosen.items()},
                        n=n, degrees=10.0, mm=10.0, seed=seed, own_answer=False)
        for name, r in cell.items():
            out[name]["tre"].append(statistics.median(r["tre"]))
            out[name]["shift"].append(np.mean(r["shift"], axis=0).tolist())
    return out


def spread(case: dict, *, n: int = 8, degrees: float = 10.0, mm: float = 15.0, seed: int = 400,
           preset: str | None = None) -> dict[str, Any]:
    """Start independence where there is no truth (the real MR/CT pairs): MedFuse from the
    unperturbed start and from ``n`` starts perturbed by up to +-``degrees``, +-``mm`` per axis;
    the largest mean distance over the anatomy between any two answers, and each answer's mean
    distance from the unperturbed one."""
    from medfuse.registration import register

    fixed, moving = case["fixed"], case["moving"]
    points = quality.sample_points(fixed, case["anatomy"], n=2000)
    rng = np.random.default_rng(seed)
    answers, times = [], []
    for k in range(n + 1):
        p = sitk.Euler3DTransform() if k == 0 else perturbation(rng, fixed.center(), degrees, mm)
        t0 = time.perf_counter()
        found = register(fixed, perturbed(moving, p), preset=preset, threads=1).transform
        times.append(time.perf_counter() - t0)
        answers.append(compose([p, found]) if k else found)
    pairs = [float(np.mean(quality.tre_against_truth(a, b, points)))
             for i, a in enumerate(answers) for b in answers[i + 1:]]
    return dict(max_pair_mm=max(pairs), from_own=[float(np.mean(quality.tre_against_truth(
        a, answers[0], points))) for a in answers[1:]], time=statistics.median(times))


def summary(case: dict, r: dict) -> str:
    n = len(r["tre"])
    t = statistics.median(r["time"])
    back = sum(d < 2.0 for d in r["own"])
    if case["truth"] == "exact":
        ok = sum(e < 4.0 for e in r["tre"])
        return f"{ok}/{n}, {statistics.median(r['tre']):.2f} mm, {t:.1f} s"
    if case["truth"] == "scanner":
        ok = sum(e < 4.0 for e in r["tre"])
        return (f"{ok}/{n} within 4 mm ({statistics.median(r['tre']):.1f} mm); own answer "
                f"{back}/{n} (at {r['own_at_truth']:.1f} mm); {t:.1f} s")
    return f"own answer {back}/{n}; {t:.1f} s"


def command_time(repeats: int = 3) -> dict[str, list[float]]:
    """Wall times of fresh ``medfuse register`` processes on each sts pair (NIfTI inputs)."""
    exe = [str(REPO / ".venv/bin/medfuse")] if (REPO / ".venv/bin/medfuse").exists() \
        else [sys.executable, "-c", "from medfuse.cli import main; raise SystemExit(main())"]
    out = {}
    for patient in sorted((DATA / "sts").glob("STS_*")):
        ct = patient / "CT/nifti/image/image.nii.gz"
        for folder, mod in (("PET", "PT"), ("MR_T1", "MR")):
            mv = patient / folder / "nifti/image/image.nii.gz"
            times = []
            for _ in range(repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    subprocess.run([*exe, "register", str(ct), str(mv), "-o", f"{tmp}/out",
                                    "--fixed-modality", "CT", "--moving-modality", mod, "--quiet"],
                                   check=True, capture_output=True)
                    times.append(time.perf_counter() - t0)
            out[f"{patient.name} {folder} -> CT"] = times
    return out


def pet_ct_question() -> dict[str, dict[str, float]]:
    """Is the PET/CT MI optimum off the scanner alignment because of patient motion or because MI
    follows the tumour? Measures, per patient: where the MI optimum lies (median distance over the
    CT body from the scanner alignment), the same with the tumour (GTV dilated by 10 mm) left out of
    the metric, and the Dice of the PET body outline (SUV > 0.2) with the CT body (HU > -300) at the
    scanner alignment and at the MI optimum."""
    from medfuse.registration import register
    from medfuse.registration.quality import dice

    identity = sitk.Euler3DTransform()
    out = {}
    for patient in sorted((DATA / "sts").glob("STS_*")):
        ct = load(patient / "CT/nifti/image/image.nii.gz", modality="CT", units="HU")
        pet = load(patient / "PET/nifti/image/image.nii.gz", modality="PT")
        gtv = load(patient / "CT/nifti/mask/mask.nii.gz")
        body = ct.array > -300
        points = quality.sample_points(ct, body, n=2000)
        optimum = register(ct, pet, threads=1).transform
        grown = sitk.BinaryDilate(sitk.Cast(gtv.to_sitk() > 0, sitk.sitkUInt8), [10, 10, 3])
        keep = ct.with_array(((sitk.GetArrayFromImage(grown) == 0) & body).astype(np.uint8))
        no_tumour = register(ct, pet, fixed_mask=keep, threads=1).transform
        outline = pet.with_array((pet.array > 0.2).astype(np.uint8))
        out[patient.name] = {
            "optimum_mm": float(np.median(quality.tre_against_truth(optimum, identity, points))),
            "optimum_without_tumour_mm": float(np.median(
                quality.tre_against_truth(no_tumour, identity, points))),
            "tumour_fraction_of_ct": float(np.mean(gtv.array > 0)),
            "dice_outline_scanner": dice(outline.resample_to(
                ct, interpolation="nearest").array > 0, body),
            "dice_outline_optimum": dice(outline.resample_to(
                ct, interpolation="nearest", transform=optimum).array > 0, body),
        }
        print(patient.name, out[patient.name], flush=True)
    return out


def render(cache: dict, case_list: list[dict]) -> str:
    """The markdown tables from every result gathered so far."""
    names = [c["name"] for c in case_list]
    truth = {c["name"]: c["truth"] for c in case_list}
    methods_done = [m for m in cache.get("anchors", {})]
    text = ["## Registration: MedFuse against the anchors (+-10 degrees, +-10 mm per axis)", "",
            "Successes / median TRE over the anatomy / median time of one registration, single-"
            "threaded, 10 random perturbations per case. Exact truth: success = TRE < 4 mm. "
            "Scanner: distance from the PET/CT scanner alignment. Own answer: within 2 mm of the "
            "method's own result from the unperturbed start. Times were taken on the 2-core "
            "machine shared with other jobs, the methods taking turns on each perturbed "
            "image: compare columns, not absolute values.", "",
            "| data (truth) | " + " | ".join(methods_done) + " |", "|---|" + "---|" * len(methods_done)]
    for n in names:
        text.append(f"| {n} ({truth[n]}) | " + " | ".join(
            cache["anchors"][m].get(n, "") for m in methods_done) + " |")
    if cache.get("times", {}).get(MEDFUSE) and len(cache["times"]) > 1:
        text += ["", "## Speed: each anchor's median time over MedFuse's (same cases, same run)", "",
                 "Wall-clock time, and in brackets CPU time of the process (every method runs on "
                 "one thread, so CPU time is the work done, less disturbed by other jobs on the "
                 "machine).", "",
                 "| data | " + " | ".join(m for m in methods_done if m != MEDFUSE) + " |",
                 "|---|" + "---|" * (len(methods_done) - 1)]
        for n in names:
            cells = [" ".join(_ratio(cache.get(kind, {}), m, n, fmt)
                              for kind, fmt in (("times", "{:.1f}x"), ("cpu", "({:.1f}x)"))).strip()
                     for m in methods_done if m != MEDFUSE]
            text.append(f"| {n} | " + " | ".join(cells) + " |")
        loads = cache.get("load", [])
        if loads:
            text += ["", f"Load average (1 min) at the start and end of the runs: "
                     f"{', '.join(f'{x:.1f}' for x in loads)} on 2 cores."]
    if cache.get("draws"):
        text += _draws_table(cache["draws"])
    if cache.get("wide"):
        text += ["", "## MedFuse from wider starts (+-15 degrees, +-20 mm per axis)", "",
                 "| data (truth) | MedFuse rigid |", "|---|---|"]
        text += [f"| {n} ({truth[n]}) | {cache['wide'][n]} |" for n in names if n in cache["wide"]]
    if cache.get("spread"):
        text += _spread_table(cache["spread"])
    if cache.get("command"):
        text += ["", "## Whole `medfuse register` command (fresh process, NIfTI inputs)", "",
                 "| pair | median | range |", "|---|---|---|"]
        for pair, times in cache["command"].items():
            text.append(f"| {pair} | {statistics.median(times):.2f} s | "
                        f"{min(times):.2f}-{max(times):.2f} s |")
    if cache.get("pet_ct"):
        text += ["", "## PET/CT: is the MI optimum off the scanner alignment by patient motion?", "",
                 "| patient | MI optimum from scanner | same, tumour left out | tumour share of CT "
                 "| PET outline Dice, scanner | at MI optimum |", "|---|---|---|---|---|---|"]
        for name, r in cache["pet_ct"].items():
            text.append(f"| {name} | {r['optimum_mm']:.1f} mm | {r['optimum_without_tumour_mm']:.1f} mm"
                        f" | {100 * r['tumour_fraction_of_ct']:.0f} % | {r['dice_outline_scanner']:.3f}"
                        f" | {r['dice_outline_optimum']:.3f} |")
    return "\n".join(text) + "\n"


def _draws_table(found: dict[str, dict[str, dict[str, list]]]) -> list[str]:
    """The seed study as markdown: per case and method, the mean over seeds of the median TRE,
    its standard error and range, and the mean shift of the answers from the truth."""
    shown = [m for m in SEEDED if any(m in per_case for per_case in found.values())]
    seeds = max(len(r["tre"]) for per_case in found.values() for r in per_case.values())
    text = ["", "## Exact truth over random draws (+-10 degrees, +-10 mm per axis)", "",
            "A cell of the first table is one draw: its ten starts share the method's random seed. "
            f"Here each method ran {seeds} seeds on the same perturbations. Per seed: the median "
            "TRE over the starts; shown: the mean over seeds +- its standard error [lowest-"
            "highest], and below it the mean displacement (x, y, z; mm, LPS) that the answers "
            "give the anatomy, where the truth gives none.",
            "", "| data | " + " | ".join(shown) + " |", "|---|" + "---|" * len(shown)]
    for case, per_method in found.items():
        cells = []
        for m in shown:
            if m not in per_method:
                cells.append("")
                continue
            tre, shift = per_method[m]["tre"], np.mean(per_method[m]["shift"], axis=0)
            se = statistics.stdev(tre) / len(tre) ** 0.5 if len(tre) > 1 else float("nan")
            cells.append(f"{statistics.mean(tre):.3f} +- {se:.3f} mm [{min(tre):.2f}-"
                         f"{max(tre):.2f}]<br>({', '.join(f'{x:+.2f}' for x in shift)})")
        text.append(f"| {case} | " + " | ".join(cells) + " |")
    return text


def _spread_table(found: dict[str, dict[str, dict]]) -> list[str]:
    """The start-independence study as markdown: per preset and real MR/CT pair, the largest mean
    distance between two answers and each perturbed answer's distance from the unperturbed one."""
    text = ["", "## Real MR/CT: start independence (+-10 degrees, +-15 mm per axis)", "",
            "MedFuse from the unperturbed start and 8 perturbed ones (elastix's fixed seed). Spread: "
            "the largest mean distance over the CT body (HU > -300) between any two of the 9 "
            "answers; then each perturbed answer's mean distance from the unperturbed one.", "",
            "| preset | pair | spread | from the unperturbed answer | median time |",
            "|---|---|---|---|---|"]
    for preset, per_case in found.items():
        for case, r in per_case.items():
            text.append(f"| {preset} | {case} | {r['max_pair_mm']:.2f} mm | "
                        f"{', '.join(f'{d:.2f}' for d in r['from_own'])} mm | {r['time']:.1f} s |")
    return text


def _ratio(times: dict, method: str, case: str, fmt: str) -> str:
    """``fmt`` of ``method``'s median time on ``case`` over MedFuse's, or "" when either is missing."""
    ours, theirs = times.get(MEDFUSE, {}), times.get(method, {})
    return fmt.format(theirs[case] / ours[case]) if case in ours and case in theirs else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the markdown tables here (after each case)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "medfuse_reg_bench.json",
                        help="results gathered so far; a rerun skips what is there")
    parser.add_argument("-n", type=int, default=10, help="perturbations per case")
    parser.add_argument("--only", default="", help="run only methods whose name contains this")
    parser.add_argument("--wide", action="store_true",
                        help="also run MedFuse from +-15 degrees, +-20 mm starts")
    parser.add_argument("--draws", type=int, default=0, metavar="SEEDS",
                        help="also run the exact-truth cases under this many random seeds")
    parser.add_argument("--draw-starts", type=int, default=5, help="perturbations per seed")
    parser.add_argument("--command", action="store_true", help="also time the whole command")
    parser.add_argument("--pet-ct", action="store_true", help="also measure the PET/CT question")
    parser.add_argument("--spread", default="", metavar="PRESETS",
                        help="also measure MedFuse's start independence on the real MR/CT pairs "
                        "with these presets (comma-separated, e.g. rigid,bspline)")
    args = parser.parse_args()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    cache = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    cache.setdefault("anchors", {})

    def save() -> None:
        args.cache.write_text(json.dumps(cache, indent=1))
        if args.out:
            args.out.write_text(render(cache, all_cases), encoding="utf-8")

    all_cases = cases()
    chosen = {k: v for k, v in methods().items() if args.only.lower() in k.lower()}
    cache.setdefault("times", {})
    todo = [{name: method for name, method in chosen.items()
             if case["name"] not in cache["anchors"].get(name, {})} for case in all_cases]
    if any(todo):  # the load line describes the runs of this table
        cache.setdefault("load", []).append(os.getloadavg()[0])
    for i, case in enumerate(all_cases):  # methods side by side, case by case: same machine load
        if not todo[i]:
            continue
        for name, r in run_case(case, todo[i], n=args.n, degrees=10.0, mm=10.0,
                                seed=100 + i).items():
            done = cache["anchors"].setdefault(name, {})
            done[case["name"]] = summary(case, r)
            cache["times"].setdefault(name, {})[case["name"]] = statistics.median(r["time"])
            cache.setdefault("cpu", {}).setdefault(name, {})[case["name"]] = statistics.median(r["cpu"])
            print(f"{case['name']:<22} {name:<28} {done[case['name']]}", flush=True)
        save()
    if any(todo):
        cache["load"].append(os.getloadavg()[0])
    if args.wide:
        wide = cache.setdefault("wide", {})
        for i, case in enumerate(all_cases):
            if case["name"] not in wide:
                r = run_case(case, {MEDFUSE: medfuse_method}, n=args.n, degrees=15.0, mm=20.0,
                             seed=200 + i)[MEDFUSE]
                wide[case["name"]] = summary(case, r)
                print(f"{case['name']:<22} wide {wide[case['name']]}", flush=True)
                save()
    if args.draws:
        seeded = {name: m for name, m in chosen.items() if name in SEEDED}
        for i, case in enumerate(all_cases):
            if case["truth"] == "exact" and case["name"] not in cache.setdefault("draws", {}):
                cache["draws"][case["name"]] = draws(case, seeded, seeds=args.draws,
                                                     n=args.draw_starts, seed=300 + i)
                print(f"{case['name']:<22} draws {cache['draws'][case['name']]}", flush=True)
                save()
    for preset in filter(None, args.spread.split(",")):
        done = cache.setdefault("spread", {}).setdefault(preset, {})
        for case in all_cases:
            if case["truth"] == "none" and case["name"] not in done:
                done[case["name"]] = spread(case, preset=preset)
                print(f"{case['name']:<22} spread {preset} {done[case['name']]}", flush=True)
                save()
    if args.command:
        cache["command"] = command_time()
        save()
    if args.pet_ct:
        cache["pet_ct"] = pet_ct_question()
        save()
    print(render(cache, all_cases))


if __name__ == "__main__":
    main()
