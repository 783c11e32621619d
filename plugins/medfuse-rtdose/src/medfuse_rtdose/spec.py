"""The RT Dose modality spec that MedFuse finds through the ``medfuse.modalities`` entry point.

Kept light on purpose: MedFuse imports every modality entry point when it starts looking for
modalities, so this module imports only numpy and ``medfuse.modalities``; pydicom is imported by the
loader when a dose file is actually read.

Examples
--------
>>> import numpy as np
>>> RTDOSE.normalize(np.array([0.0, 30.0, 60.0]), "Gy").tolist()
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

import numpy as np

from medfuse.modalities import ModalitySpec
from medfuse_rtdose.reader import read_rtdose

#: DICOM RT Dose Storage SOP Class
RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"


def normalize_to_max(array: np.ndarray, units: str) -> np.ndarray:
    """Dose as a fraction of its maximum, in [0, 1] (a colour wash shows percent of Dmax).

    The same rule serves absolute (Gy) and relative (%) dose, so a plan sum and a single beam look
    alike after normalisation; a grid without dose gives zeros.
    """
    values = np.asarray(array, dtype=np.float32)
    peak = float(values.max()) if values.size else 0.0
    if peak <= 0:
        return np.zeros_like(values)
    return np.clip(values / peak, 0.0, 1.0)


RTDOSE = ModalitySpec(
    code="RTDOSE",
    name="Radiotherapy dose (DICOM RT Dose)",
    dicom_modalities=("RTDOSE",),
    sop_class_uids=(RT_DOSE_STORAGE,),
    default_units="Gy",
    normalize=normalize_to_max,
    colormap="turbo",
    # isodose-like display windows: the lower limit hides low dose under the wash
    windows={
        "dose 0-70 Gy": (0.0, 70.0),
        "dose >= 20 Gy": (20.0, 70.0),
        "dose >= 5 Gy": (5.0, 70.0),
        "relative 0-110 %": (0.0, 110.0),
        "isodose >= 50 %": (50.0, 110.0),
        "isodose >= 95 %": (95.0, 110.0),
    },
    value_format="{value:.2f} {units}",
    functional=True,
    # a dose grid shares its planning CT's frame of reference: register the CT, the dose follows
    presets={"CT": "rigid", "MR": "rigid", "PT": "rigid"},
    loader=read_rtdose,
)
