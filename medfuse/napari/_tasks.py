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
    """One call into the engine: ``registration.register`` (with masks, landmarks, progress and
    cancel), its result applied to ``moving`` on ``moving``'s own grid; or, where the scanner
    geometry is kept (``mode="geometry"``, or ``"auto"`` on one scanner's frame of reference),
    ``moving`` as it is and no result.

    The registered series keeps its grid (a PET stays on its 4 mm grid, uncropped) and its place in
    the world: shown in place of the original, it changes no extent of the viewer.
    """
    from medfuse import registration

    if mode == "auto":
        mode = "register" if registration.needs_registration(fixed, moving) else "geometry"
    if mode == "geometry":
        return moving, None
    result = registration.register(fixed, moving, preset=preset, landmarks=landmarks,
                                   progress=progress, cancel=cancel, **masks)
    return result.apply(moving, reference=moving), result


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
