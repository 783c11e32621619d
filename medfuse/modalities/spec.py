"""The modality spec: what a plugin (or the core) declares about one imaging modality."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: normaliser signature: (array, units) -> float32 array, mostly in [0, 1]
Normalizer = Callable[[np.ndarray, str], np.ndarray]


def percentile_normalizer(low: float = 0.5, high: float = 99.5) -> Normalizer:
    """Normalise to [0, 1] between two percentiles of the non-zero voxels (MR, counts)."""

    def normalize(array: np.ndarray, units: str) -> np.ndarray:
        values = np.asarray(array, dtype=np.float32)
        nonzero = values[values != 0]
        if nonzero.size == 0:
            return np.zeros_like(values)
        lo, hi = np.percentile(nonzero, [low, high])
        return np.clip((values - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)

    return normalize


def window_normalizer(lower: float, upper: float, *, fallback: Normalizer | None = None,
                      units: str | None = None) -> Normalizer:
    """Normalise to [0, 1] over a fixed window in ``units`` (CT HU, PET SUV); other units fall back."""

    def normalize(array: np.ndarray, array_units: str) -> np.ndarray:
        if units is not None and array_units != units and fallback is not None:
            return fallback(array, array_units)
        values = np.asarray(array, dtype=np.float32)
        return np.clip((values - lower) / (upper - lower), 0.0, 1.0)

    return normalize


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
