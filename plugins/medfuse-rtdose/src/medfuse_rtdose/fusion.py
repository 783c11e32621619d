"""``dose_wash``: a fusion method (entry point group ``medfuse.fusion``) colouring dose over anatomy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medfuse.errors import FusionError
from medfuse.modalities import get_modality
from medfuse.volume import Volume
from medfuse_rtdose.spec import normalize_to_max

__all__ = ["dose_wash"]


def dose_wash(
    volumes: Sequence[Volume],
    *,
    opacity: float = 0.5,
    threshold: float = 0.1,
    colormap: str = "turbo",
) -> Volume:
    """Overlay an RT dose as a colour wash on a grey anatomical image (CT, MR).

    The anatomy is normalised by its modality's rule (a CT soft-tissue window, MR percentiles); the
    dose is resampled onto the anatomy's grid by physical position, taken as a fraction of its
    maximum and coloured with ``colormap``; voxels below ``threshold`` of the maximum stay grey.

    Parameters
    ----------
    volumes : the anatomy and the dose (modality ``RTDOSE``), in any order.
    opacity : weight of the dose colour where it is shown, in [0, 1].
    threshold : fraction of the maximum dose under which no colour is drawn.
    colormap : a matplotlib colormap name.

    Returns
    -------
    Volume
        RGB uint8 on the anatomy's grid (``meta["rgb"]``), modality ``OT``.

    Raises
    ------
    FusionError
        Not exactly one dose and one other volume, or an opacity outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> ct = Volume(np.zeros((1, 2, 2), np.int16), modality="CT", units="HU")
    >>> dose = Volume(np.array([[[0.0, 1.0], [2.0, 4.0]]], np.float32), modality="RTDOSE", units="Gy")
    >>> fused = dose_wash([ct, dose])
    >>> fused.array.shape, fused.is_rgb
    ((1, 2, 2, 3), True)
    """
    from matplotlib import colormaps

    doses = [v for v in volumes if v.modality == "RTDOSE"]
    others = [v for v in volumes if v.modality != "RTDOSE"]
    if len(doses) != 1 or len(others) != 1:
        raise FusionError(
            "dose_wash needs one RTDOSE volume and one anatomical volume, "
            f"not modalities {[v.modality for v in volumes]}"
        )
    if not 0.0 <= opacity <= 1.0:
        raise FusionError(f"opacity must be in [0, 1], not {opacity}")
    anatomy, dose = others[0], doses[0]
    if anatomy.is_rgb:
        raise FusionError("dose_wash needs a grey anatomical image, not an RGB one")
    if not dose.same_grid(anatomy):
        dose = dose.resample_to(anatomy, interpolation="linear")
    grey = get_modality(anatomy.modality).normalize(anatomy.array, anatomy.units)[..., np.newaxis]
    fraction = normalize_to_max(dose.array, dose.units)
    colour = colormaps[colormap](fraction)[..., :3].astype(np.float32)
    alpha = np.where(fraction >= threshold, opacity, 0.0)[..., np.newaxis]
    rgb = (1.0 - alpha) * grey + alpha * colour
    meta = {"rgb": True, "fusion": "dose_wash", "source": anatomy.meta.get("source")}
    return anatomy.with_array(
        np.round(rgb * 255).astype(np.uint8), modality="OT", units="RGB", meta=meta
    )
