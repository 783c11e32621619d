"""napari sample data: the MedFuse sample study (CT, MR, PET phantom and its lesions), made in memory."""

from __future__ import annotations

from medfuse.napari._layers import LayerDataTuple
from medfuse.napari._reader import study_layer_data


def sample_study() -> list[LayerDataTuple]:
    """The sample study as layers: CT shown, MR hidden, PET in SUV on top, lesion labels.

    The study is made by :func:`medfuse.sample.make_study`, the same content that
    ``medfuse sample-data`` writes; the PET is converted from Bq/ml to SUVbw with the factor its
    DICOM headers give, as the DICOM loader does.
    """
    from medfuse.sample import make_study

    study = make_study()
    factor = float(study.truth["pet"]["suv_factor_g_per_bq"])
    pet = study.pet.with_array(study.pet.array * factor, units="SUVbw",
                               meta={"suv_factor": factor})
    lesions = study.lesions.with_array(study.lesions.array, meta={"label_map": True})
    return study_layer_data([study.ct, study.mr, pet, lesions])
