"""Quality numbers: normalised MI before/after prefers the aligned pose on a real PET/CT pair."""

from __future__ import annotations

import SimpleITK as sitk

from medfuse.io import load
from medfuse.registration.quality import mi_on_common_overlap
from medfuse.registration.search import binned, rotations
from tests.conftest import real_data


def test_nmi_prefers_the_scanner_alignment_to_every_rotated_pose():
    """STS_001's PET shows mostly the tumour: with bins over the overlap's own range, poses that
    took the tumour's peak out of the overlap scored higher than the scanner alignment (4 of 12
    here) and a good registration was reported as failed."""
    patient = real_data("volumes", "sts", "STS_001")
    ct = binned(load(patient / "CT/nifti/image/image.nii.gz", modality="CT"), 4.0)
    pet = binned(load(patient / "PET/nifti/image/image.nii.gz", modality="PT"), 4.0)
    aligned = sitk.Transform(3, sitk.sitkIdentity)
    for degrees in (5.0, 10.0):
        for matrix in rotations(degrees)[1:]:
            rotated = sitk.AffineTransform(matrix.ravel().tolist(), (0.0, 0.0, 0.0), ct.center())
            (_, nmi_aligned), (_, nmi_rotated) = mi_on_common_overlap(ct, pet, [aligned, rotated])
            assert nmi_aligned > nmi_rotated, f"{degrees} degrees: {matrix.round(3).tolist()}"
