"""The plugin's reader (files, DICOM and study folders) and NIfTI writer (no display needed)."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.errors import InputError
from medfuse.io import load, write_nifti
from medfuse.napari._reader import napari_get_reader, read_layers, read_volumes
from medfuse.napari._writer import write_image

napari = pytest.importorskip("napari")


@pytest.fixture(scope="module")
def sample_study_dir(tmp_path_factory):
    """The sample study as ``medfuse sample-data`` writes it (DICOM + NIfTI + labels)."""
    sample = pytest.importorskip("medfuse.sample")
    return sample.write_study(tmp_path_factory.mktemp("study") / "study")


def test_reader_claims_medical_files_and_folders(tmp_path, ct_pet):
    ct, _ = ct_pet
    path = write_nifti(ct, tmp_path / "ct.nii.gz")
    assert napari_get_reader(str(path)) is read_layers
    assert napari_get_reader(str(tmp_path)) is read_layers
    assert napari_get_reader(str(tmp_path / "notes.txt")) is None


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no images found"):
        read_volumes(tmp_path)


def test_study_folder_opens_all_series_with_pet_overlaid_on_ct(sample_study_dir):
    layers = read_layers(str(sample_study_dir))
    by_modality = {kwargs["metadata"]["modality"]: (kwargs, kind) for _, kwargs, kind in layers}
    assert {"CT", "MR", "PT"} <= set(by_modality)
    kinds = [kind for *_, kind in layers]
    assert kinds.count("labels") == 1  # the lesions
    names = [kwargs["name"] for _, kwargs, _ in layers]
    ct_at, pet_at = (names.index(by_modality[m][0]["name"]) for m in ("CT", "PT"))
    assert pet_at > ct_at  # drawn on top
    pet = by_modality["PT"][0]
    assert pet["units"] == "SUVbw" if "units" in pet else pet["metadata"]["units"] == "SUVbw"
    assert pet["blending"] == "translucent_no_depth" and pet["colormap"].name == "inferno overlay"
    assert by_modality["MR"][0]["visible"] is False
    assert by_modality["CT"][0]["contrast_limits"] == (-160.0, 240.0)


def test_writer_round_trips_geometry_and_modality(tmp_path, ct_pet):
    _, pet = ct_pet
    layer = napari.layers.Layer.create(*__import__(
        "medfuse.napari._layers", fromlist=["volume_layer_data"]).volume_layer_data(pet))
    data, attributes, _ = layer.as_layer_data_tuple()
    [written] = write_image(str(tmp_path / "pet"), data, attributes)
    back = load(written)
    assert written.endswith(".nii.gz")
    assert back.same_grid(pet) and back.modality == "PT" and back.units == "SUVbw"
    assert np.array_equal(back.array, pet.array)
