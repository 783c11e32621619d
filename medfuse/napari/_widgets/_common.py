"""Shared pieces of the panels: layer pickers, the study selection (fixed, moving) and a base panel."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from magicgui.widgets import ComboBox, Container, Label
from psygnal import Signal

from medfuse.napari._display_grid import display_volume
from medfuse.napari._layers import create_layer, is_medfuse_data_layer, layer_to_volume, volume_layer_data
from medfuse.napari._tasks import in_subprocess
from medfuse.napari._workers import TaskRunner
from medfuse.volume import Volume


class StudySelection:
    """Which layers are the fixed (reference) and moving series of the study, shared by all panels."""

    changed = Signal()

    def __init__(self) -> None:
        self.fixed: str | None = None
        self.moving: str | None = None

    def set(self, *, fixed: str | None = None, moving: str | None = None) -> None:
        """Update the selection (names of layers) and tell every panel."""
        changed = False
        if fixed is not None and fixed != self.fixed:
            self.fixed, changed = fixed, True
        if moving is not None and moving != self.moving:
            self.moving, changed = moving, True
        if changed:
            self.changed.emit()


_SELECTIONS: weakref.WeakKeyDictionary[Any, StudySelection] = weakref.WeakKeyDictionary()


def study_selection(viewer: Any) -> StudySelection:
    """The one study selection of ``viewer``."""
    if viewer not in _SELECTIONS:
        _SELECTIONS[viewer] = StudySelection()
    return _SELECTIONS[viewer]


def image_names(viewer: Any, *, kinds: tuple[str, ...] = ("Image",)) -> list[str]:
    """Names of the viewer's data layers of the given kinds, bottom to top."""
    return [
        layer.name
        for layer in viewer.layers
        if is_medfuse_data_layer(layer) and layer.__class__.__name__ in kinds
    ]


class LayerPicker(ComboBox):
    """A combo box of the viewer's layers of some kinds, kept current as layers come and go."""

    def __init__(self, viewer: Any, *, label: str, kinds: tuple[str, ...] = ("Image",),
                 optional: bool = False) -> None:
        self._viewer = viewer
        self._kinds = kinds
        self._optional = optional
        super().__init__(label=label, choices=self._choices)
        for name in ("inserted", "removed", "moved"):
            getattr(viewer.layers.events, name).connect(self._refresh)

    def _choices(self, _widget: Any = None) -> list[Any]:
        names: list[Any] = image_names(self._viewer, kinds=self._kinds)
        return [("(none)", None), *[(n, n) for n in names]] if self._optional else names

    def _refresh(self, _event: Any = None) -> None:
        self.reset_choices()

    def layer(self) -> Any:
        """The chosen layer, or None."""
        name = self.value
        return self._viewer.layers[name] if name in self._viewer.layers else None


class Panel(Container):
    """Base of the MedFuse panels: a viewer, a task runner at the bottom, helpers to add results."""

    def __init__(self, viewer: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.viewer = viewer
        self.runner = TaskRunner()
        self.selection = study_selection(viewer)

    def finish_layout(self) -> None:
        """Put the task runner below the panel's widgets."""
        self.native.layout().addWidget(self.runner)
        self.native.layout().addStretch(1)

    def follow_selection(self, fixed: LayerPicker, moving: LayerPicker) -> None:
        """Keep two pickers and the shared study selection in step, both ways."""

        def from_state() -> None:
            for picker, name in ((fixed, self.selection.fixed), (moving, self.selection.moving)):
                if name is not None and name in picker.choices and picker.value != name:
                    picker.value = name

        self.selection.changed.connect(from_state)
        fixed.changed.connect(lambda name: self.selection.set(fixed=name))
        moving.changed.connect(lambda name: self.selection.set(moving=name))
        from_state()

    def show_volume(self, volume: Volume, *, name: str, replace: bool = True,
                    **overrides: Any) -> Any:
        """Add ``volume`` as a layer named ``name`` (replacing a layer of that name); returns it."""
        return self.show_layer(ready_layer(volume, name=name, reference=self.fixed_volume(),
                                           **overrides), replace=replace)

    def show_layer(self, layer: Any, *, replace: bool = True) -> Any:
        """Add a layer made by :func:`ready_layer` (replacing a layer of its name); returns it."""
        if replace and layer.name in self.viewer.layers:
            self.viewer.layers.remove(layer.name)
        return self.viewer.add_layer(layer)

    def fixed_volume(self) -> Volume | None:
        """The fixed series of the study as shown (its display grid), or None."""
        name = self.selection.fixed
        return layer_to_volume(self.viewer.layers[name]) if name in self.viewer.layers else None

    def run(self, func: Callable[..., Any], *args: Any, description: str,
            on_done: Callable[[Any], None], control: bool = False, **kwargs: Any) -> Any:
        """Run one engine call in a worker (see :class:`TaskRunner`)."""
        return self.runner.start(func, *args, description=description, on_done=on_done,
                                 control=control, **kwargs)


def ready_layer(volume: Volume, *, name: str, reference: Volume | None = None,
                **overrides: Any) -> Any:
    """The napari layer of ``volume`` as the app shows it: on a display grid (resampled onto
    ``reference`` when oblique), with its modality's display settings (contrast limits computed
    here). A worker thread may make it; the UI thread then only adds it."""
    volume = display_volume(volume, reference=reference)
    return create_layer(volume_layer_data(volume, name=name, **overrides))


def layer_in_subprocess(func: Callable[..., Volume], *args: Any, name: str,
                        reference: Volume | None, progress: Any = None, cancel: Any = None,
                        **kwargs: Any) -> tuple[Volume, Any]:
    """A worker task: ``func(*args, **kwargs)`` (an engine call that returns a ``Volume``) in its
    own process (:func:`~medfuse.napari._tasks.in_subprocess`: the UI thread never waits on its
    global lock), then its layer made by :func:`ready_layer`. Returns both."""
    volume = in_subprocess(func, *args, progress=progress, cancel=cancel, **kwargs)
    return volume, ready_layer(volume, name=name, reference=reference)


def info_label(text: str = "") -> Label:
    """A word-wrapped read-only label for results."""
    label = Label(value=text)
    label.native.setWordWrap(True)
    return label
