"""Engine calls that the panels run off the UI thread, and a runner that isolates them in a process.

Nothing here imports Qt, so a spawned process can import it cheaply. elastix and SimpleITK hold
Python's global lock for long stretches; run in a thread they would freeze the window for seconds.
:func:`in_subprocess` runs such a call in a fresh process: the UI thread never waits on the lock,
progress comes back through a queue, and Cancel ends the process at once.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
from collections.abc import Callable
from typing import Any

from medfuse.errors import MedFuseError
from medfuse.volume import Volume


def register_volumes(fixed: Volume, moving: Volume, *, mode: str, preset: str | None,
                     masks: dict[str, Volume], landmarks: tuple[Any, Any] | None,
                     progress: Any = None, cancel: Any = None) -> tuple[Volume, Any]:
    """The Register panel's call: ``medfuse.workflow.register_series`` (the one "auto" rule, with
    masks, landmarks, progress and cancel), keeping the moving series' own grid: shown in place of
    the original (a PET stays on its 4 mm grid, uncropped), it changes no extent of the viewer.
    Returns the volume and the registration result (None where scanner geometry was kept)."""
    from medfuse.workflow import register_series

    return register_series(fixed, moving, mode=mode, preset=preset, landmarks=landmarks,
                           keep_grid=True, progress=progress, cancel=cancel, **masks)


def fuse_volumes(first: Volume, second: Volume, *, method: str,
                 progress: Any = None) -> Volume:
    """The Fuse panel's call: ``second`` resampled onto ``first``'s grid by geometry (when needed),
    then one call into the fusion engine."""
    from medfuse import fusion

    if not second.same_grid(first):
        if progress is not None:
            progress(0, 2, "resampling the second series onto the first one's grid")
        second = second.resample_to(first)
    if progress is not None:
        progress(1, 2, f"fusing ({method})")
    return fusion.fuse([first, second], method=method)


def study_report(fixed: Volume, moving: Volume, registration: dict[str, Any] | None,
                 masks: list[Volume], folder: Any, *, progress: Any = None) -> dict[str, Any]:
    """The Export panel's call: the study of the chosen pair written in the study layout
    (``medfuse.workflow.write_study``: report, registered and fused volumes, overlays, transforms).

    ``registration`` is what the Register panel recorded on the moving layer (``{"moving": the
    series before registration, "result": its result or None}``): the user's own registration
    (preset, masks, landmarks) is reported, never a default one. A series never registered in the
    app is brought onto the fixed grid by the one "auto" rule.
    """
    from medfuse.workflow import (
        fuse_study,
        quantify_study,
        register_series,
        study_of_registrations,
        write_study,
    )

    if registration is None:
        if progress is not None:
            progress(0, 3, "registering (the moving series was not registered in the app)")
        result = register_series(fixed, moving)[1]
    else:
        moving, result = registration["moving"], registration["result"]
    study = study_of_registrations(fixed, [moving], [result], masks=masks)
    if progress is not None:
        progress(1, 3, "fusing and quantifying")
    fuse_study(study)
    quantify_study(study)
    if progress is not None:
        progress(2, 3, "writing the report, volumes and overlays")
    return write_study(study, folder, items=("registered", "fused", "masks"),
                       formats=("nifti", "png", "transforms"))


class TaskCancelled(MedFuseError):
    """The user cancelled a task running in its own process."""


def _child(channel: Any, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    def progress(done: int, total: int, message: str) -> None:
        channel.put(("progress", (done, total, message)))

    try:
        channel.put(("result", func(*args, progress=progress, **kwargs)))
    except BaseException as err:  # noqa: BLE001 - sent to the parent, which raises it
        channel.put(("error", err))


def in_subprocess(func: Callable[..., Any], *args: Any, progress: Any = None,
                  cancel: Callable[[], bool] | None = None, poll_s: float = 0.05,
                  **kwargs: Any) -> Any:
    """Run ``func(*args, progress=..., **kwargs)`` in a spawned process and return its result.

    ``func`` must be importable by name and its inputs and result picklable. Progress callbacks of
    the child reach ``progress`` here; when ``cancel()`` turns true the process is terminated and
    :class:`TaskCancelled` is raised; an error in the child is raised here.
    """
    context = mp.get_context("spawn")
    channel = context.Queue()
    process = context.Process(target=_child, args=(channel, func, args, kwargs), daemon=True)
    process.start()
    try:
        while True:
            if cancel is not None and cancel():
                process.terminate()
                raise TaskCancelled("cancelled; the task's process was stopped")
            try:
                kind, payload = channel.get(timeout=poll_s)
            except queue_module.Empty:
                if not process.is_alive() and channel.empty():
                    raise MedFuseError(
                        f"the task's process ended without a result (exit code {process.exitcode})"
                    ) from None
                continue
            if kind == "progress":
                if progress is not None:
                    progress(*payload)
            elif kind == "error":
                raise payload
            else:
                return payload
    finally:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
