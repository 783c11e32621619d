"""The modality spec: what a plugin (or the core) declares about one imaging modality."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: normaliser signature: (array, units) -> float32 array, mostly in [0, 1]. A normaliser may also
#: have ``window(array, units) -> (lower, upper) | None``: the values it maps linearly onto 0 and 1
#: (:func:`window_of`); fusion records it, so a fused image's colours keep a scale in SUV or HU
Normalizer = Callable[[np.ndarray, str], np.ndarray]

Window = tuple[float, float]


def window_of(normalize: Normalizer, array: np.ndarray, units: str) -> Window | None:
    """The window that ``normalize`` maps linearly onto [0, 1] for ``array`` in ``units``, or None
    when the normaliser does not say (a plugin's plain function).

    Examples
    --------
    >>> window_of(window_normalizer(-160.0, 240.0, units="HU"), np.zeros(3), "HU")
    (-160.0, 240.0)
    >>> window_of(lambda array, units: array, np.zeros(3), "HU") is None
    True
    """
    window = getattr(normalize, "window", None)
    return None if window is None else window(array, units)


def scale_to_window(array: np.ndarray, window: Window) -> np.ndarray:
    """``array`` as float32 (float64 for a float64 window), 0 at ``window[0]`` and 1 at
    ``window[1]``, clipped to [0, 1]."""
    values = np.asarray(array, dtype=np.float32)
    lower, upper = window
    return np.clip((values - lower) / max(float(upper - lower), 1e-6), 0.0, 1.0)


@dataclass(frozen=True)
class PercentileNormalizer:
    """Normalise to [0, 1] between two percentiles of the non-zero voxels (MR, counts)."""

    low: float = 0.5
    high: float = 99.5

    def window(self, array: np.ndarray, units: str) -> Window:
        """The two percentiles of the non-zero voxels ((0, 1) when every voxel is zero)."""
        values = np.asarray(array, dtype=np.float32)
        nonzero = values[values != 0]
        if nonzero.size == 0:
            return (0.0, 1.0)
        lower, upper = np.percentile(nonzero, [self.low, self.high])
        return (lower, upper)

    def __call__(self, array: np.ndarray, units: str) -> np.ndarray:
        return scale_to_window(array, self.window(array, units))


@dataclass(frozen=True)
class WindowNormalizer:
    """Normalise to [0, 1] over a fixed window in ``units`` (CT HU, PET SUV); arrays in other
    units go to ``fallback``."""

    lower: float
    upper: float
    units: str | None = None
    fallback: Normalizer | None = None

    def _falls_back(self, units: str) -> bool:
        return self.units is not None and units != self.units and self.fallback is not None

    def window(self, array: np.ndarray, units: str) -> Window | None:
        """The fixed window, or the fallback's for arrays in other units."""
        if self._falls_back(units):
            return window_of(self.fallback, array, units)
        return (self.lower, self.upper)

    def __call__(self, array: np.ndarray, units: str) -> np.ndarray:
        if self._falls_back(units):
            return self.fallback(array, units)
        return scale_to_window(array, (self.lower, self.upper))


def percentile_normalizer(low: float = 0.5, high: float = 99.5) -> Normalizer:
    """Normalise to [0, 1] between two percentiles of the non-zero voxels (MR, counts)."""
    return PercentileNormalizer(low, high)


def window_normalizer(lower: float, upper: float, *, fallback: Normalizer | None = None,
                      units: str | None = None) -> Normalizer:
    """Normalise to [0, 1] over a fixed window in ``units`` (CT HU, PET SUV); other units fall back."""
    return WindowNormalizer(lower, upper, units, fallback)


@dataclass(frozen=True)
class ModalitySpec:
    """Everything MedFuse needs to know about one modality.

    Parameters
    ----------
    code : the modality code used in ``Volume.modality`` (``CT``, ``MR``, ``PT``, ``NM`` ...).
    name : a human-readable name.
    dicom_modalities : DICOM ``Modality`` values recognised as this modality.
    sop_class_uids : DICOM SOP Class UIDs recognised as this modality.
    file_patterns : glob patterns of non-DICOM files of this modality (``*_dose.nii.gz``).
    default_units : the units of values as loaded when nothing says otherwise.
    normalize : maps values to [0, 1] for fusion.
    colormap : napari colormap name for display.
    windows : named display windows ``{name: (lower, upper)}``; the first is the default.
    value_format : format of the cursor readout (``"{value:.0f} HU"``).
    functional : True for modalities shown as a colour overlay (PET, SPECT, dose).
    presets : registration preset to use when pairing with another modality code.
    loader : optional callable ``(path) -> Volume`` for files the core cannot read.
    """

    code: str
    name: str
    dicom_modalities: tuple[str, ...] = ()
    sop_class_uids: tuple[str, ...] = ()
    file_patterns: tuple[str, ...] = ()
    default_units: str = "a.u."
    normalize: Normalizer = field(default_factory=percentile_normalizer)
    colormap: str = "gray"
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    value_format: str = "{value:.4g} {units}"
    functional: bool = False
    presets: dict[str, str] = field(default_factory=dict)
    loader: Callable | None = None

    def format_value(self, value: float, units: str | None = None) -> str:
        """Format a voxel value for the cursor readout."""
        return self.value_format.format(value=float(value), units=units or self.default_units)
