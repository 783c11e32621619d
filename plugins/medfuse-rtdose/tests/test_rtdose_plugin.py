"""The plugin as MedFuse sees it: entry points, the modality spec, and the dose_wash fusion method."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.errors import FusionError
from medfuse.modalities import get_modality, modality_for_dicom
from medfuse.plugins import list_plugins
from medfuse.volume import Volume
from medfuse_rtdose import RTDOSE, dose_wash, read_rtdose

pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR UI")


def test_installed_plugin_is_listed_with_its_origin() -> None:
    entries = {(e.kind, e.name): e for e in list_plugins()}
    assert entries[("modality", "RTDOSE")].origin == "medfuse-rtdose"
    assert entries[("fusion", "dose_wash")].origin == "medfuse-rtdose"
    assert entries[("modality", "RTDOSE")].status == "ok"


def test_registry_recognises_rt_dose() -> None:
    assert get_modality("RTDOSE") is RTDOSE
    assert modality_for_dicom("RTDOSE") is RTDOSE
    assert modality_for_dicom("", "1.2.840.10008.5.1.4.1.1.481.2") is RTDOSE
    assert RTDOSE.colormap == "turbo" and RTDOSE.functional
    assert RTDOSE.format_value(61.234, "Gy") == "61.23 Gy"
    assert all(lo < hi for lo, hi in RTDOSE.windows.values())


def test_normalisation_is_a_fraction_of_the_maximum() -> None:
    out = RTDOSE.normalize(np.array([0.0, 15.0, 60.0], np.float32), "Gy")
    np.testing.assert_allclose(out, [0.0, 0.25, 1.0])
    assert RTDOSE.normalize(np.zeros(3), "Gy").tolist() == [0.0, 0.0, 0.0]


def test_dose_wash_colours_dose_over_ct(rtdose_path) -> None:
    dose = read_rtdose(rtdose_path)
    # a CT grid of 5 mm covering the dose box and 20 mm more on each side in x
    ct = Volume(np.full((15, 20, 28), 40, np.int16), spacing=(5.0, 5.0, 5.0),
                origin=tuple(np.add(dose.origin, (-20.0, 0.0, 0.0))), modality="CT", units="HU")
    fused = dose_wash([ct, dose], opacity=0.6)
    assert fused.is_rgb and fused.array.shape == (15, 20, 28, 3) and fused.same_grid(ct)
    grey = fused.array[:, :, 0]  # outside the dose grid: grey, R == G == B
    assert (grey == grey[..., :1]).all()
    inside = fused.array[7, 10, 14]
    assert len(set(inside.tolist())) > 1  # coloured


@pytest.mark.parametrize(
    ("modalities", "options", "message"),
    [
        (("CT", "CT"), {}, "needs one RTDOSE volume and one anatomical volume"),
        (("CT", "RTDOSE"), {"opacity": 1.5}, r"opacity must be in \[0, 1\], not 1.5"),
    ],
)
def test_dose_wash_rejects_bad_inputs(modalities, options, message) -> None:
    volumes = [Volume(np.zeros((2, 2, 2), np.float32), modality=m) for m in modalities]
    with pytest.raises(FusionError, match=message):
        dose_wash(volumes, **options)
