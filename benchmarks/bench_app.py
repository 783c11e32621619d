"""App benchmark: first render of a 512x512x300 CT and a PET of the same study, and the longest
event-loop stall (a 10 ms QTimer probe) per action: opening the study, slice stepping in each view,
learned fusion, the report and a registration.

Run under a display: ``xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_app.py``.
Writes ``benchmarks/results_app.md`` (``--out``). Goals: first render < 3 s; no stall > 100 ms.
Run against another checkout with ``PYTHONPATH=<checkout>`` and ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

from medfuse.volume import Volume

OUT = Path(__file__).with_name("results_app.md")


def make_pet(ct: Volume) -> Volume:
    """A PET of the CT's body on a 4 mm grid (SUVbw): uptake by tissue, with one hot lesion."""
    z, y, x = (n // f for n, f in zip(ct.array.shape, (int(4 / ct.spacing[2]), 5, 5)))
    small = ct.array[: z * int(4 / ct.spacing[2]):int(4 / ct.spacing[2]), : y * 5:5, : x * 5:5]
    suv = np.where(small > -200, 1.0, 0.05).astype(np.float32)
    suv[np.abs(small - 60) < 30] = 2.2  # liver-like
    cz, cy, cx = (n // 2 for n in suv.shape)
    suv[cz - 2:cz + 2, cy - 3:cy + 3, cx + 10:cx + 16] = 9.0
    return Volume(suv, spacing=(ct.spacing[0] * 5, ct.spacing[1] * 5, 4.0), origin=ct.origin,
                  direction=ct.direction, modality="PT", units="SUVbw", meta={"description": "PET"})


#: with ``--profile``: (seconds, action, cProfile.Profile) of each event-loop turn over 100 ms
#: while a :class:`StallProbe` runs
PROFILED: list[tuple[float, str, object]] | None = None
#: the action being measured (names the profiled turns), and whether a stall probe runs
ACTION = ["start"]
PROBING = [False]


def _turn() -> float:
    """One pass of the Qt event loop; returns its seconds (profiled with ``--profile``)."""
    import cProfile

    from qtpy.QtWidgets import QApplication

    profile = cProfile.Profile() if PROFILED is not None and PROBING[0] else None
    t0 = time.perf_counter()
    if profile is not None:
        profile.enable()
    QApplication.processEvents()
    if profile is not None:
        profile.disable()
    seconds = time.perf_counter() - t0
    if profile is not None and seconds > 0.1:
        PROFILED.append((seconds, ACTION[0], profile))
    return seconds


def print_profiles(count: int, *, lines: int = 25) -> None:
    """Print where the ``count`` longest profiled turns of each action spent their time."""
    import io
    import pstats

    for action in dict.fromkeys(a for _, a, _ in PROFILED or []):
        turns = sorted((t for t in PROFILED if t[1] == action), key=lambda t: -t[0])
        print(f"## {action}: {len(turns)} turns over 100 ms (profiled, so slower): "
              + ", ".join(f"{1000 * t[0]:.0f}" for t in turns) + " ms")
        for seconds, _, profile in turns[:count]:
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(lines)
            print(f"### turn of {1000 * seconds:.0f} ms\n{text.getvalue()}")


def _spin(until, *, timeout: float = 120.0) -> float:
    """Run the Qt event loop until ``until()`` is true; returns the longest single turn (s)."""
    longest = 0.0
    end = time.perf_counter() + timeout
    while not until() and time.perf_counter() < end:
        longest = max(longest, _turn())
        time.sleep(0.001)
    return longest


def first_render(ct: Volume, pet: Volume, *, app: bool) -> dict[str, float]:
    """Seconds from a new window to the first drawn frame with CT and PET (bare napari or MedFuse).

    The first frame is the main canvas's first draw after the layers are added; with the MedFuse
    window the time until the coronal and sagittal views have drawn too is measured as well.
    """
    import napari

    from medfuse.napari._reader import study_layer_data
    from medfuse.napari._widgets._study import add_layer_data

    start = time.perf_counter()
    viewer = napari.Viewer(show=True, title="bench")
    viewer.window._qt_window.resize(1600, 1000)
    panels = None
    if app:
        from medfuse.napari._app import build_window

        panels = build_window(viewer)
    window_s = time.perf_counter() - start
    t0 = time.perf_counter()
    add_layer_data(viewer, study_layer_data([ct, pet]))
    layers_s = time.perf_counter() - t0
    drawn: list[float] = []
    canvas = viewer.window._qt_viewer.canvas
    canvas.events.draw.connect(lambda _e: drawn.append(time.perf_counter()), position="last")
    _spin(lambda: bool(drawn))
    result = {"window_s": window_s, "layers_s": layers_s, "first_render_s": drawn[0] - start}
    if panels is not None:
        ortho = panels["Orthogonal views"]
        longest = _spin(lambda: ortho.synced)
        for qt_viewer in ortho._qt_viewers:
            qt_viewer.canvas.native.grabFramebuffer()
        result["all_views_s"] = time.perf_counter() - start
        result["longest_turn_after_first_frame_s"] = longest
        ortho.detach()
    viewer.close()
    return result


class StallProbe:
    """Longest gap between the ticks of a 10 ms QTimer while an action runs (the event loop's
    longest stall: what the user feels as a freeze)."""

    def __init__(self) -> None:
        from qtpy.QtCore import QTimer

        self.ticks: list[float] = []
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def __enter__(self) -> "StallProbe":
        self.ticks = [time.perf_counter()]
        self._timer.start()
        PROBING[0] = True
        return self

    def __exit__(self, *_exc: object) -> None:
        PROBING[0] = False
        self._timer.stop()
        self.ticks.append(time.perf_counter())

    @property
    def longest_ms(self) -> float:
        return float(np.diff(self.ticks).max() * 1000.0)


def _window(layout: str = "2x2"):
    import napari

    from medfuse.napari._app import build_window

    viewer = napari.Viewer(show=True, title="bench")
    viewer.window._qt_window.resize(1600, 1000)
    panels = build_window(viewer, layout=layout)
    _spin(lambda: panels["Orthogonal views"].synced, timeout=60)  # every view built
    _spin(lambda: False, timeout=0.3)
    return viewer, panels


def _close(viewer, panels) -> None:
    panels["Orthogonal views"].detach()
    viewer.close()


def _settle(panels, runner=None, *, timeout: float = 600.0) -> float:
    """Spin until ``runner`` is idle and every view has caught up; returns the seconds taken."""
    ortho = panels["Orthogonal views"]
    start = time.perf_counter()
    _spin(lambda: (runner is None or not runner.running) and ortho.settled, timeout=timeout)
    _spin(lambda: False, timeout=0.3)  # the last repaints
    return time.perf_counter() - start


def _given(value):
    """A reader that hands back what it was given (the study is already read)."""
    return value


def _open(study, layer_data) -> None:
    """Open a study through the Study panel as its Open button does (layers made in the worker,
    shown one per step), the study already read."""
    from medfuse.napari._widgets._study import made_layers

    study.run(made_layers, _given, layer_data, description="opening", on_done=study.showing)


def stall_open(layer_data) -> dict[str, float]:
    """Open a study through the Study panel (its layers already read): from the worker's result
    to every view drawn."""
    viewer, panels = _window()
    study = panels["Study"]
    with StallProbe() as probe:
        _open(study, layer_data)
        seconds = _settle(panels, study.runner)
    _close(viewer, panels)
    return {"longest_ms": probe.longest_ms, "seconds": seconds}


def stall_stepping(layer_data, *, steps: int = 8) -> dict[str, dict[str, float]]:
    """Step the slice ``steps`` times in each view (napari's arrow-key step of that view's dims),
    each step waited out until every view has caught up; the longest stall of any step."""
    viewer, panels = _window()
    study = panels["Study"]
    _open(study, layer_data)
    _settle(panels, study.runner)
    ortho = panels["Orthogonal views"]
    results = {}
    for plane, model in [("axial", viewer), *ortho.models.items()]:
        if plane == "mip":
            continue
        axis = model.dims.not_displayed[-1]
        worst, per_step = 0.0, []
        for _ in range(steps):
            with StallProbe() as probe:
                model.dims.set_current_step(axis, model.dims.current_step[axis] + 1)
                _settle(panels, timeout=30)
            worst = max(worst, probe.longest_ms)
            per_step.append(probe.longest_ms)
        results[plane] = {"longest_ms": worst, "median_ms": float(np.median(per_step))}
    _close(viewer, panels)
    return results


def stall_panel_task(task: str, *, mode: str = "register") -> dict[str, float]:
    """The longest stall while a panel task runs on the sample study and its result is shown:
    ``fusion`` (the learned default), ``report`` (the Export panel's study folder) or
    ``registration``."""
    import tempfile

    from medfuse.napari._sample_data import sample_study

    viewer, panels = _window()
    study = panels["Study"]
    _open(study, sample_study())
    _settle(panels, study.runner)
    ct = next(x.name for x in viewer.layers if x.metadata.get("modality") == "CT")
    pet = next(x.name for x in viewer.layers if x.metadata.get("modality") == "PT")
    panel = panels[{"fusion": "Fuse", "report": "Export", "registration": "Register"}[task]]
    with tempfile.TemporaryDirectory() as folder:
        if task == "fusion":
            panel.first.value, panel.second.value = ct, pet
            start = panel.start
        elif task == "report":
            panel.fixed.value, panel.moving.value = ct, pet
            panel.folder.value = folder
            start = panel.report
        else:
            panel.fixed.value, panel.moving.value = ct, pet
            panel.mode.value = mode
            start = panel.start
        _spin(lambda: False, timeout=0.3)
        with StallProbe() as probe:
            t0 = time.perf_counter()
            start()
            _spin(lambda: not panel.runner.running, timeout=600)
            seconds = time.perf_counter() - t0
            _settle(panels, timeout=60)
        status = panel.runner.status.text()
    _close(viewer, panels)
    return {"longest_ms": probe.longest_ms, "seconds": seconds, "status": status}


def main() -> None:
    """Measure every action and write the results table (or profile a few, ``--only``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="300,512,512", help="CT shape z,y,x")
    parser.add_argument("--mode", default="register", help="registration mode for the stall probe")
    parser.add_argument("--runs", type=int, default=2, help="runs of each panel task")
    parser.add_argument("--label", default="this checkout", help="what is measured (a commit)")
    parser.add_argument("--out", type=Path, default=OUT, help="the results file")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the profile of the N longest event-loop turns of each action")
    parser.add_argument("--only", nargs="*", default=None,
                        choices=("render", "open", "stepping", "fusion", "report", "registration"),
                        help="measure only these actions (with --profile; no results file)")
    args = parser.parse_args()
    global PROFILED
    if args.profile:
        PROFILED = []
    if args.only is not None:
        profile_only(args)
        return
    logging.basicConfig(level=logging.WARNING)
    import medfuse
    from medfuse.napari._reader import study_layer_data
    from medfuse.sample import make_ct_series

    shape = tuple(int(v) for v in args.shape.split(","))
    ct = make_ct_series(shape)
    pet = make_pet(ct)
    ACTION[0] = "first render"
    bare = first_render(ct, pet, app=False)
    full = first_render(ct, pet, app=True)
    big = study_layer_data([ct, pet])
    ACTION[0] = "open"
    opened = [stall_open(big) for _ in range(args.runs)]
    ACTION[0] = "slice stepping"
    stepping = stall_stepping(big)
    tasks = {}
    for task in ("fusion", "report", "registration"):
        ACTION[0] = task
        tasks[task] = [stall_panel_task(task, mode=args.mode) for _ in range(args.runs)]
    load = os.getloadavg()

    def runs(rows):
        return ", ".join(f"{r['longest_ms']:.0f}" for r in rows) + " ms"

    lines = [
        f"# App benchmark (`benchmarks/bench_app.py`): {args.label}",
        "",
        f"medfuse from `{Path(medfuse.__file__).parent}`. Machine: {platform.machine()}, Mesa "
        "llvmpipe under Xvfb (software OpenGL); shared 2-core machine.",
        "",
        f"CT {'x'.join(map(str, ct.array.shape[::-1]))} int16 ({ct.array.nbytes / 1e6:.0f} MB), "
        f"PET {'x'.join(map(str, pet.array.shape[::-1]))} float32 on a 4 mm grid; panel tasks on "
        "the sample study (MR, CT, PET, lesions). Stall: the longest gap between the ticks of a "
        "10 ms timer while the action runs and every view catches up (goal: none over 100 ms).",
        "",
        "| action | longest stall | time |",
        "|---|---|---|",
        f"| first render, bare napari window + CT + PET | - | {bare['first_render_s']:.2f} s |",
        f"| first render, MedFuse window + CT + PET (all views drawn) | "
        f"{1000 * full['longest_turn_after_first_frame_s']:.0f} ms after the first frame | "
        f"{full['first_render_s']:.2f} s ({full['all_views_s']:.2f} s) |",
        f"| open (Study panel: layers shown, all views drawn) | {runs(opened)} | "
        + ", ".join(f"{r['seconds']:.2f}" for r in opened) + " s |",
    ]
    for plane, row in stepping.items():
        lines.append(f"| slice step in the {plane} view (8 steps) | {row['longest_ms']:.0f} ms "
                     f"(median {row['median_ms']:.0f} ms) | - |")
    names = {"fusion": "learned fusion (Fuse panel, default)", "report": "report (Export panel)",
             "registration": f"registration (Register panel, {args.mode})"}
    for task, rows in tasks.items():
        lines.append(f"| {names[task]} | {runs(rows)} | "
                     + ", ".join(f"{r['seconds']:.1f}" for r in rows) + " s |")
    lines += ["", f"Load average (1, 5 min) at the end: {load[0]:.1f}, {load[1]:.1f} on 2 cores.",
              "", "Panel status at the end: " + "; ".join(rows[-1]["status"] for rows in tasks.values()),
              ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    print_profiles(args.profile)


def profile_only(args: argparse.Namespace) -> None:
    """Run only the actions of ``--only`` (a smaller CT: ``--shape``) and print their profiles."""
    from medfuse.napari._reader import study_layer_data
    from medfuse.sample import make_ct_series

    ct = make_ct_series(tuple(int(v) for v in args.shape.split(",")))
    pet = make_pet(ct)
    big = study_layer_data([ct, pet])
    steps = {"render": lambda: first_render(ct, pet, app=True), "open": lambda: stall_open(big),
             "stepping": lambda: stall_stepping(big, steps=4)}
    for action in args.only:
        ACTION[0] = action
        print(action, steps.get(action, lambda: stall_panel_task(action, mode=args.mode))())
    print_profiles(args.profile or 3)


if __name__ == "__main__":
    main()
