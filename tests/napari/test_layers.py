"""Volumes become layers placed in world millimetres, with modality display defaults (no display)."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.napari._layers import (
    display_defaults,
    format_value,
    layer_to_volume,
    volume_layer_data,
    window_presets,
)
from medfuse.volume import Volume
from tests.napari.conftest import HOT_POINT_LPS

napari = pytest.importorskip("napari")


def _layer(volume: Volume):
    return napari.layers.Layer.create(*volume_layer_data(volume))


def test_pet_on_4mm_grid_and_ct_on_1mm_grid_meet_at_the_same_world_point(ct_pet):
    ct, pet = ct_pet
    world = np.asarray(HOT_POINT_LPS[::-1])  # napari world is z, y, x
    for volume in (ct, pet):
        layer = _layer(volume)
        index = volume.world_to_index([HOT_POINT_LPS])[0][::-1]
        assert np.allclose(layer.data_to_world(index), world, atol=1e-6)
    values = []
    for volume in (ct, pet):
        layer = _layer(volume)
        index = tuple(np.round(layer.world_to_data(world)).astype(int))
        values.append(layer.data[index])
    assert values[0] == 900 and values[1] == pytest.approx(12.0)


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([-1.0, 1.0, 1.0]),
                                       np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])])
def test_layer_to_volume_gives_back_the_geometry(direction):
    volume = Volume(np.arange(60, dtype=np.int16).reshape(3, 4, 5), spacing=(0.5, 2.0, 3.0),
                    origin=(10.0, -20.0, 5.0), direction=direction, modality="MR", units="a.u.")
    back = layer_to_volume(_layer(volume))
    assert back.same_grid(volume)
    assert back.modality == "MR" and back.units == "a.u."
    assert back.array is volume.array  # no copy of the voxels


@pytest.mark.parametrize(
    ("modality", "units", "colormap", "blending", "limits"),
    [
        ("CT", "HU", "gray", "translucent_no_depth", (-160.0, 240.0)),
        ("PT", "SUVbw", "inferno overlay", "translucent_no_depth", (0.0, 10.0)),
        ("NM", "CNTS", "hot overlay", "translucent_no_depth", None),
        ("MR", "a.u.", "gray", "translucent_no_depth", None),
    ],
)
def test_display_defaults_follow_the_modality(modality, units, colormap, blending, limits):
    rng = np.random.default_rng(0)
    volume = Volume(rng.uniform(1, 100, (8, 16, 16)).astype(np.float32), modality=modality,
                    units=units)
    defaults = display_defaults(volume)
    assert getattr(defaults["colormap"], "name", defaults["colormap"]) == colormap
    assert defaults["blending"] == blending
    if limits is not None:
        assert defaults["contrast_limits"] == limits
    else:  # robust percentiles of the data
        assert 1.0 <= defaults["contrast_limits"][0] < defaults["contrast_limits"][1] <= 100.0


def test_overlay_colormap_is_clear_at_low_uptake_and_opaque_when_hot():
    from medfuse.napari._layers import overlay_colormap

    alpha = overlay_colormap("inferno").map(np.array([0.0, 0.1, 0.2, 0.35, 1.0]))[:, 3]
    assert alpha[0] == alpha[1] == 0.0  # SUV <= 1 of 0-10: the CT shows untinted
    assert 0.0 < alpha[2] < 1.0 and alpha[3] == alpha[4] == 1.0


def test_ct_window_presets_and_pet_only_in_suv():
    assert set(window_presets("CT")) == {"soft tissue", "brain", "lung", "bone"}
    assert window_presets("PT", units="SUVbw")["SUV 0-5"] == (0.0, 5.0)
    assert window_presets("PT", units="BQML") == {}


def test_readout_formats_hu_and_suv(ct_pet):
    ct, pet = ct_pet
    assert format_value(_layer(ct), 40) == "40 HU"
    assert format_value(_layer(pet), 2.345) == "2.35 SUVbw"
    assert format_value(_layer(pet), None) == "-"
