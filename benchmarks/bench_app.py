"""App benchmark: open a 512x512x300 CT and a PET of the same study to first render, and the
longest event-loop stall while a registration runs in the background (QTimer probe every 10 ms),
over a few registrations one after another.

Run under a display: ``xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_app.py``.
Writes ``benchmarks/results_app.md``. Goals: first render < 3 s; no stall > 100 ms.
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


def _spin(until, *, timeout: float = 120.0) -> float:
    """Run the Qt event loop until ``until()`` is true; returns the longest single turn (s)."""
    from qtpy.QtWidgets import QApplication

    longest = 0.0
    end = time.perf_counter() + timeout
    while not until() and time.perf_counter() < end:
        t0 = time.perf_counter()
        QApplication.processEvents()
        longest = max(longest, time.perf_counter() - t0)
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


def stall_during_registration(*, mode: str) -> dict[str, float]:
    """Longest gap between 10 ms timer ticks while the Register panel of the MedFuse window (all
    panels and the orthogonal views) registers the sample study and shows the result."""
    import napari
    from qtpy.QtCore import QTimer

    from medfuse.napari._app import build_window
    from medfuse.napari._sample_data import sample_study
    from medfuse.napari._widgets._study import add_layer_data

    viewer = napari.Viewer(show=True, title="bench")
    viewer.window._qt_window.resize(1600, 1000)
    panels = build_window(viewer)
    add_layer_data(viewer, sample_study())
    ortho = panels["Orthogonal views"]
    _spin(lambda: ortho.synced)
    panel = panels["Register"]
    panel.fixed.value = next(x.name for x in viewer.layers if x.metadata.get("modality") == "CT")
    panel.moving.value = next(x.name for x in viewer.layers if x.metadata.get("modality") == "PT")
    panel.mode.value = mode
    _spin(lambda: False, timeout=0.3)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    start = time.perf_counter()
    panel.start()
    _spin(lambda: not panel.runner.running, timeout=600)
    duration = time.perf_counter() - start
    _spin(lambda: ortho.synced)  # the result is mirrored into the other views
    _spin(lambda: False, timeout=0.5)
    timer.stop()
    gaps = np.diff(ticks) * 1000.0
    message = panel.runner.status.text()
    ortho.detach()
    viewer.close()
    return {"registration_s": duration, "max_stall_ms": float(gaps.max()),
            "p99_stall_ms": float(np.percentile(gaps, 99)), "ticks": len(ticks),
            "status": message}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="300,512,512", help="CT shape z,y,x")
    parser.add_argument("--mode", default="register", help="registration mode for the stall probe")
    parser.add_argument("--stall-runs", type=int, default=3,
                        help="registrations probed one after another (the stall varies with load)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from medfuse.sample import make_ct_series

    shape = tuple(int(v) for v in args.shape.split(","))
    ct = make_ct_series(shape)
    pet = make_pet(ct)
    bare = first_render(ct, pet, app=False)
    full = first_render(ct, pet, app=True)
    stalls = [stall_during_registration(mode=args.mode) for _ in range(args.stall_runs)]
    stall = max(stalls, key=lambda r: r["max_stall_ms"])
    load = os.getloadavg()[0]
    maxima = ", ".join(f"{r['max_stall_ms']:.0f}" for r in stalls)
    durations = "-".join(f"{f(r['registration_s'] for r in stalls):.1f}" for f in (min, max)) + " s"
    lines = [
        "# App benchmark (`benchmarks/bench_app.py`)",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Mesa llvmpipe under Xvfb "
        "(software OpenGL); shared 2-core machine.",
        "",
        f"CT {'x'.join(map(str, ct.array.shape[::-1]))} int16 ({ct.array.nbytes / 1e6:.0f} MB), "
        f"PET {'x'.join(map(str, pet.array.shape[::-1]))} float32 on a 4 mm grid.",
        "",
        "| measure | goal | result |",
        "|---|---|---|",
        f"| first render, bare napari window + CT + PET | < 3 s | {bare['first_render_s']:.2f} s "
        f"(window {bare['window_s']:.2f} s, layers {bare['layers_s']:.2f} s) |",
        f"| first render, MedFuse window (5 panels + orthogonal views) + CT + PET | < 3 s | "
        f"{full['first_render_s']:.2f} s (window {full['window_s']:.2f} s, layers "
        f"{full['layers_s']:.2f} s) |",
        f"| ... until the coronal and sagittal views have drawn too | - | {full['all_views_s']:.2f} s "
        f"(longest event-loop turn meanwhile {1000 * full['longest_turn_after_first_frame_s']:.0f} ms) |",
        f"| longest event-loop stall during a background registration in the MedFuse window "
        f"({args.mode}, sample study CT/PET, {len(stalls)} runs of {durations}) | < 100 ms | "
        f"{stall['max_stall_ms']:.0f} ms (runs: {maxima} ms; p99 {stall['p99_stall_ms']:.0f} ms, "
        f"{stall['ticks']} ticks) |",
        "",
        f"Load average (1 min) when the stall runs ended: {load:.1f} on 2 cores.",
        "",
        f"Registration panel status at the end: {stall['status']}",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
