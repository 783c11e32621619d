"""The built-in modalities, registered through the ``medfuse.modalities`` entry points like any plugin."""

from __future__ import annotations

from medfuse.modalities.spec import ModalitySpec, percentile_normalizer, window_normalizer

CT = ModalitySpec(
    code="CT",
    name="Computed tomography",
    dicom_modalities=("CT",),
    sop_class_uids=("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1"),
    default_units="HU",
    normalize=window_normalizer(-160.0, 240.0, units="HU", fallback=percentile_normalizer()),
    colormap="gray",
    windows={
        "soft tissue": (-160.0, 240.0),
        "brain": (0.0, 80.0),
        "lung": (-1350.0, 150.0),
        "bone": (-450.0, 1050.0),
    },
    value_format="{value:.0f} {units}",
    presets={"MR": "rigid", "PT": "rigid_mi", "NM": "rigid", "CT": "rigid"},
)

MR = ModalitySpec(
    code="MR",
    name="Magnetic resonance",
    dicom_modalities=("MR",),
    sop_class_uids=("1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1"),
    default_units="a.u.",
    normalize=percentile_normalizer(0.5, 99.5),
    colormap="gray",
    value_format="{value:.0f} {units}",
    presets={"CT": "rigid", "PT": "rigid", "NM": "rigid", "MR": "rigid_mi"},
)

PT = ModalitySpec(
    code="PT",
    name="Positron emission tomography",
    dicom_modalities=("PT",),
    sop_class_uids=("1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.130"),
    default_units="BQML",
    normalize=window_normalizer(0.0, 10.0, units="SUVbw", fallback=percentile_normalizer(0.0, 99.9)),
    colormap="inferno",
    windows={"SUV 0-10": (0.0, 10.0), "SUV 0-5": (0.0, 5.0), "SUV 0-20": (0.0, 20.0)},
    value_format="{value:.2f} {units}",
    functional=True,
    presets={"CT": "rigid_mi", "MR": "rigid", "PT": "rigid"},
)

NM = ModalitySpec(
    code="NM",
    name="Single-photon emission tomography (SPECT)",
    dicom_modalities=("NM",),
    sop_class_uids=("1.2.840.10008.5.1.4.1.1.20",),
    default_units="CNTS",
    normalize=percentile_normalizer(0.0, 99.9),
    colormap="hot",
    value_format="{value:.4g} {units}",
    functional=True,
    presets={"CT": "rigid", "MR": "rigid", "NM": "rigid"},
)

OT = ModalitySpec(code="OT", name="Other / unknown", default_units="a.u.")
