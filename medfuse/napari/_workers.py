"""Long work off the UI thread: a progress bar, a cancel button and a status line for each panel.

Loading, registration and fusion run in ``napari.qt.threading`` workers. A failure becomes a one-line
message in the panel (and a napari notification), never a traceback window; the viewer keeps what it
had. Cancel stops a generator task at its next step; a single long call (one elastix run) cannot be
interrupted, so its result is discarded when it arrives and the panel is free at once.

A result may be shown in steps: an ``on_done`` that returns an iterator is advanced one step per
event-loop turn (each step one napari layer, say, which napari makes and draws in one go), so
that the window repaints and handles input between them.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from qtpy.QtCore import QObject, QTimer, Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

logger = logging.getLogger(__name__)

#: pause before a task's result is shown, so that the window repaints the panel and handles input
#: first (a zero-time timer would run in the same pass of the event loop) (ms)
_YIELD_MS = 15


def error_message(err: BaseException) -> str:
    """One line saying what went wrong (MedFuse errors already name the file and the problem)."""
    from medfuse.errors import MedFuseError

    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, MedFuseError):
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class _Bridge(QObject):
    """Carries progress from the worker thread to the UI thread (a queued Qt signal)."""

    progressed = Signal(int, str, float)


class TaskControl:
    """What a task receives to report progress and to learn that it was cancelled (thread-safe)."""

    def __init__(self, bridge: _Bridge, task_id: int) -> None:
        self._bridge = bridge
        self._task_id = task_id
        self._cancelled = threading.Event()

    def progress(self, done: int, total: int, message: str) -> None:
        """Report ``done`` of ``total`` steps with a message."""
        self._bridge.progressed.emit(self._task_id, message, done / total if total else 0.0)

    def cancelled(self) -> bool:
        """True once the user pressed Cancel."""
        return self._cancelled.is_set()


class TaskRunner(QWidget):
    """A progress bar, a cancel button and a status line that run one task at a time in a worker.

    Parameters
    ----------
    parent : the panel that owns it.
    """

    #: emitted once a task's result has been shown (after its ``on_done``)
    result_shown = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(12)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop waiting for this task and keep the viewer as it is")
        self.cancel_button.clicked.connect(self.cancel)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setObjectName("medfuse_status")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.worker: Any = None
        #: the steps of a result being shown (see :meth:`start`), or None
        self.steps: Iterator[Any] | None = None
        self._waiting: Callable[[], bool] | None = None
        self.control: TaskControl | None = None
        self._task_id = 0
        self._bridge = _Bridge()
        self._bridge.progressed.connect(self._on_progress)
        self._idle()

    # ------------------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        """True while a task runs, or its result is shown in steps, and has not been cancelled."""
        return self.worker is not None or self.steps is not None

    def _idle(self) -> None:
        self.worker = None
        self.progress.setVisible(False)  # first: a visible bar repaints the window at once (~30 ms)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.cancel_button.setVisible(False)

    def show_message(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` in the status line (red for errors) and log it."""
        style = "color: #ff6b6b;" if error else ""
        if self.status.styleSheet() != style:  # a new style sheet re-lays out the whole panel
            self.status.setStyleSheet(style)
        self.status.setText(text)
        (logger.warning if error else logger.info)(text)

    # ------------------------------------------------------------------------------ tasks
    def start(
        self,
        func: Callable[..., Any],
        *args: Any,
        description: str,
        on_done: Callable[[Any], None],
        control: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Run ``func(*args, **kwargs)`` in a worker thread; ``on_done(result)`` runs on the UI thread.

        With ``control=True`` the task gets ``progress=`` and ``cancel=`` keywords (the engines'
        ``(done, total, message)`` progress and ``() -> bool`` cancel callbacks). A generator
        ``func`` may yield ``(message, fraction)`` pairs instead. An ``on_done`` that returns an
        iterator shows the result in steps, one per event-loop turn; a step that yields a
        callable waits, before the next step, until it returns True. The task counts as running
        until the last step. Returns the started worker.
        """
        from napari.qt.threading import create_worker

        if self.running:
            self.show_message(f"busy: wait for the current task or cancel it before {description}")
            return None
        self._task_id += 1
        task_id = self._task_id
        self.control = TaskControl(self._bridge, task_id)
        if control:
            kwargs = {**kwargs, "progress": self.control.progress, "cancel": self.control.cancelled}
        connect: dict[str, Callable[..., None]] = {
            "returned": lambda result: self._returned(task_id, description, on_done, result),
            "errored": lambda err: self._errored(task_id, description, err),
        }
        if inspect.isgeneratorfunction(func):
            connect["yielded"] = lambda step: self._yielded(task_id, step)
        worker = create_worker(func, *args, _start_thread=False, _connect=connect, **kwargs)
        self.worker = worker
        self.progress.setRange(0, 0)  # busy until the task reports a fraction
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.show_message(f"{description}…")
        worker.start()
        return worker

    def cancel(self) -> None:
        """Stop the current task (at its next step) and discard its result (or the rest of it)."""
        if not self.running:
            return
        if hasattr(self.worker, "quit"):
            self.worker.quit()
        if self.control is not None:
            self.control._cancelled.set()
        self._task_id += 1  # any late result of the cancelled task is ignored
        self.steps = self._waiting = None
        self._idle()
        self.show_message("cancelled; the viewer keeps what it had")

    def _yielded(self, task_id: int, step: Any) -> None:
        if isinstance(step, tuple) and len(step) == 2:
            self._on_progress(task_id, str(step[0]), float(step[1]))

    def _on_progress(self, task_id: int, message: str, fraction: float) -> None:
        if task_id != self._task_id or self.worker is None:
            return
        # QProgressBar repaints at once on a new value, and under software OpenGL each repaint of
        # the window costs tens of milliseconds: with updates off it repaints with the next frame
        self.progress.setUpdatesEnabled(False)
        self.progress.setRange(0, 100)
        self.progress.setValue(int(100 * float(fraction)))
        self.progress.setUpdatesEnabled(True)
        self.show_message(str(message))

    def _returned(self, task_id: int, description: str, on_done: Callable[[Any], None],
                  result: Any) -> None:
        """Hide the progress bar now and show the result a turn later, so that the panel and the
        canvases repaint in separate turns (each repaint of the window costs tens of milliseconds
        under software OpenGL); the task counts as running until then."""
        if self._cancelled(task_id, description):
            return
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        QTimer.singleShot(_YIELD_MS, lambda: self._deliver(task_id, description, on_done, result))

    def _deliver(self, task_id: int, description: str, on_done: Callable[[Any], None],
                 result: Any) -> None:
        if self._cancelled(task_id, description):
            return
        self._idle()
        progress_text = self.status.text()
        try:
            shown = on_done(result)
        except Exception as err:  # a result the viewer cannot show is reported, not raised
            self._report(description, err)
            return
        if isinstance(shown, Iterator):
            self.steps = shown
            QTimer.singleShot(_YIELD_MS, lambda: self._step(task_id, description, progress_text))
            return
        self._shown(description, progress_text)

    def _step(self, task_id: int, description: str, progress_text: str) -> None:
        """Take the next step of the result being shown (or wait for the last one's condition)."""
        if self._cancelled(task_id, description) or self.steps is None:
            return
        if self._waiting is None or self._waiting():
            try:
                self._waiting = next(self.steps)
            except StopIteration:
                self.steps = self._waiting = None
                self._shown(description, progress_text)
                return
            except Exception as err:  # noqa: BLE001 - as in _deliver
                self.steps = self._waiting = None
                self._report(description, err)
                return
            if not callable(self._waiting):
                self._waiting = None
        QTimer.singleShot(_YIELD_MS, lambda: self._step(task_id, description, progress_text))

    def _shown(self, description: str, progress_text: str) -> None:
        if self.status.text() == progress_text:  # on_done said nothing of its own
            self.show_message(f"{description}: done")
        self.result_shown.emit()

    def _cancelled(self, task_id: int, description: str) -> bool:
        """True (and logged) when ``task_id``'s result belongs to a cancelled task."""
        if task_id == self._task_id:
            return False
        logger.info("discarding the result of a cancelled task (%s)", description)
        return True

    def _errored(self, task_id: int, description: str, err: BaseException) -> None:
        if task_id != self._task_id:
            return
        self._idle()
        self._report(description, err)

    def _report(self, description: str, err: BaseException) -> None:
        message = f"{description} failed: {error_message(err)}"
        self.show_message(message, error=True)
        try:
            from napari.utils.notifications import show_error

            show_error(message)
        except Exception:  # noqa: BLE001 - the status line already shows it
            logger.debug("napari notification unavailable", exc_info=True)
