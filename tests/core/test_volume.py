"""The Volume: geometry conventions, conversions and resampling."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medfuse.errors import GeometryError
from medfuse.volume import Volume


def oblique_volume() -> Volume:
    rotation = sitk.Euler3DTransform((0, 0, 0), 0.1, -0.2, 0.3).GetMatrix()
    rng = np.random.default_rng(0)
    return Volume(
        rng.integers(-1000, 2000, size=(5, 6, 7)).astype(np.int16),
        spacing=(0.8, 0.9, 2.5),
        origin=(-10.0, 20.0, -30.0),
        direction=np.asarray(rotation).reshape(3, 3),
        modality="CT",
        units="HU",
    )


def test_sitk_round_trip_keeps_voxels_geometry_and_dtype():
    volume = oblique_volume()
    image = volume.to_sitk()
    back = Volume.from_sitk(image, modality="CT", units="HU")
    assert back.array.dtype == np.int16
    np.testing.assert_array_equal(back.array, volume.array)
    assert back.same_grid(volume, atol=1e-9)


def test_a_boolean_mask_converts_as_zero_and_one():
    """A mask made by a comparison (``ct.array > -300``) is a valid SimpleITK image."""
    volume = oblique_volume()
    mask = volume.with_array(volume.array > 0)
    back = Volume.from_sitk(mask.to_sitk())
    np.testing.assert_array_equal(back.array, (volume.array > 0).astype(np.uint8))
    assert back.same_grid(volume, atol=1e-9)


@pytest.mark.parametrize("index", [(0, 0, 0), (6, 5, 4), (3.5, 1.25, 2.0)])
def test_index_to_world_matches_simpleitk(index):
    volume = oblique_volume()
    expected = volume.to_sitk().TransformContinuousIndexToPhysicalPoint(index)
    np.testing.assert_allclose(volume.index_to_world([index])[0], expected, atol=1e-9)
    np.testing.assert_allclose(volume.world_to_index([expected])[0], index, atol=1e-9)


def test_value_at_reads_nearest_voxel_and_none_outside():
    volume = oblique_volume()
    point = volume.index_to_world([(2, 3, 4)])[0]
    assert volume.value_at(point) == volume.array[4, 3, 2]
    assert volume.value_at(volume.index_to_world([(-3, 0, 0)])[0]) is None


def test_itk_round_trip_keeps_geometry():
    volume = oblique_volume()
    back = Volume.from_itk(volume.to_itk(), modality="CT")
    np.testing.assert_allclose(back.array, volume.array)
    assert back.same_grid(volume, atol=1e-6)


def test_resample_to_places_by_geometry_not_index():
    fine = Volume(np.zeros((20, 20, 20), np.float32), spacing=(1, 1, 1))
    fine.array[10, 10, 10] = 100.0
    coarse = Volume(np.zeros((5, 5, 5), np.float32), spacing=(2, 2, 2), origin=(4, 4, 4))
    on_coarse = fine.resample_to(coarse, interpolation="nearest")
    # world (10,10,10) is coarse index (3,3,3)
    assert on_coarse.array[3, 3, 3] == 100.0
    assert on_coarse.array.sum() == 100.0


def test_resample_labels_nearest_keeps_label_values():
    labels = Volume(np.zeros((8, 8, 8), np.uint8), spacing=(1, 1, 1))
    labels.array[2:6, 2:6, 2:6] = 3
    target = Volume(np.zeros((5, 5, 5), np.uint8), spacing=(1.7, 1.7, 1.7))
    out = labels.resample_to(target, interpolation="nearest")
    assert set(np.unique(out.array)) <= {0, 3}


def test_napari_affine_maps_array_index_to_zyx_world():
    volume = oblique_volume()
    zyx_index = np.array([4.0, 3.0, 2.0, 1.0])
    world_zyx = volume.napari_affine() @ zyx_index
    world_xyz = volume.index_to_world([(2, 3, 4)])[0]
    np.testing.assert_allclose(world_zyx[:3], world_xyz[::-1], atol=1e-9)


def test_rgb_2d_volume():
    rgb = Volume(np.zeros((4, 5, 3), np.uint8), meta={"rgb": True})
    assert rgb.ndim == 2 and rgb.is_rgb and rgb.size == (5, 4)
    assert Volume.from_sitk(rgb.to_sitk()).is_rgb


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"array": np.zeros(5)}, "must be 2D or 3D"),
        ({"array": np.zeros((2, 2, 2)), "spacing": (1.0, 1.0)}, "must have 3 values"),
        ({"array": np.zeros((2, 2)), "spacing": (1.0, 0.0)}, "spacing must be positive"),
    ],
)
def test_invalid_geometry_is_rejected(kwargs, message):
    with pytest.raises(GeometryError, match=message):
        Volume(**kwargs)


def test_with_array_rejects_other_grid():
    volume = oblique_volume()
    with pytest.raises(GeometryError, match="does not fit the grid"):
        volume.with_array(np.zeros((2, 2, 2)))


def test_geometry_accepts_numpy_arrays():
    volume = Volume(np.zeros((2, 3, 4)), spacing=np.array([1.0, 2.0, 3.0]), origin=np.zeros(3))
    assert volume.spacing == (1.0, 2.0, 3.0) and volume.origin == (0.0, 0.0, 0.0)
