"""The registry and ``fuse``: names, entry points, input checks, geometry, colour and metadata."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from medfuse.errors import FusionError, GeometryError
from medfuse.fusion import available_methods, fuse, get_method
from medfuse.volume import Volume


def _pair(shape: tuple[int, ...] = (16, 16)) -> list[Volume]:
    rng = np.random.default_rng(0)
    return [Volume(rng.integers(0, 256, shape).astype(np.uint8)) for _ in range(2)]


def test_builtins_come_from_entry_points() -> None:
    methods = available_methods()
    for name in ("average", "maximum", "laplacian", "gff", "learned2d"):
        assert methods[name][1] == "medfuse"
    assert get_method("default").name == "learned2d"


def test_unknown_method_lists_installed_ones() -> None:
    with pytest.raises(FusionError, match=r"unknown fusion method 'nope'; installed methods: .*maximum"):
        fuse(_pair(), method="nope")


@pytest.mark.parametrize("shape", [(16, 16), (6, 16, 16)])
def test_output_keeps_geometry_and_records_provenance(shape: tuple[int, ...]) -> None:
    nd = len(shape)
    a, b = (Volume(v.array, spacing=(0.5,) * nd, origin=(1.0,) * nd, modality="MR",
                   meta={"source": f"/x/{i}.png"}) for i, v in enumerate(_pair(shape)))
    out = fuse([a, b], method="maximum")
    assert out.same_grid(a) and out.units == "a.u." and out.modality == "OT"
    assert out.array.dtype == np.uint8
    np.testing.assert_array_equal(out.array, np.maximum(a.array, b.array))
    assert out.meta["method"] == "maximum"
    # inputs recorded in the canonical order (by role and content), the same for either argument order
    assert sorted(i["source"] for i in out.meta["inputs"]) == ["/x/0.png", "/x/1.png"]
    assert fuse([b, a], method="maximum").meta["inputs"] == out.meta["inputs"]


def test_float_volumes_are_normalised_by_modality() -> None:
    ct = Volume(np.full((4, 4, 4), 240.0, np.float32), modality="CT", units="HU")
    pet = Volume(np.full((4, 4, 4), 5.0, np.float32), modality="PT", units="SUVbw")
    out = fuse([ct, pet], method="average", colour=False)
    assert out.array.dtype == np.float32
    np.testing.assert_allclose(out.array, 0.75)  # CT window top = 1, SUV 5 of 0-10 = 0.5
    assert out.meta["colormap"] == "inferno"
    from medfuse.fusion.colour import colormap_rgb, rgb_to_ycbcr

    coloured = fuse([ct, pet], method="average")
    assert coloured.array.shape == (4, 4, 4, 3)
    got = rgb_to_ycbcr(coloured.array)[..., 1:] - 128
    want = rgb_to_ycbcr(colormap_rgb(np.array(0.5), "inferno"))[1:] - 128  # SUV 5: mid-colormap
    np.testing.assert_allclose(np.arctan2(got[..., 1], got[..., 0]),
                               np.arctan2(want[1], want[0]), atol=0.02)  # the hue of the PET
    assert np.hypot(*np.moveaxis(got, -1, 0)).min() >= 0.97 * np.hypot(*want)  # its saturation


@pytest.mark.parametrize("units", ["SUVbw", "BQML"])
def test_colour_volume_records_the_scale_of_its_colours(units: str) -> None:
    """A fused CT/PET carries the PET window its colours were made over: SUV 0-10 for a PET in
    SUV, the normaliser's percentiles of the activity otherwise; a voxel's hue is the colormap's
    at its place in that window."""
    from medfuse.fusion.colour import colormap_rgb, rgb_to_ycbcr

    rng = np.random.default_rng(4)
    ct = Volume(np.full((4, 8, 8), 40, np.int16), modality="CT", units="HU")
    activity = (rng.random((4, 8, 8)) * (12.0 if units == "SUVbw" else 9000.0)).astype(np.float32)
    pet = Volume(activity, modality="PT", units=units)
    scale = fuse([ct, pet], method="average").meta["colour_scale"]
    window = (0.0, 10.0) if units == "SUVbw" else tuple(np.percentile(activity[activity != 0],
                                                                      [0.0, 99.9]))
    assert scale["units"] == units and scale["colormap"] == "inferno"
    np.testing.assert_allclose(scale["window"], window, rtol=1e-6)
    out = fuse([ct, pet], method="average").array
    place = np.clip((activity - window[0]) / (window[1] - window[0]), 0.0, 1.0)
    got = rgb_to_ycbcr(out)[..., 1:] - 128
    want = rgb_to_ycbcr(colormap_rgb(place, "inferno"))[..., 1:] - 128
    strong = np.hypot(want[..., 0], want[..., 1]) > 20  # where the colormap has a hue
    hue = np.angle(np.exp(1j * (np.arctan2(got[..., 1], got[..., 0])
                                - np.arctan2(want[..., 1], want[..., 0]))))
    assert strong.sum() > 100 and np.abs(hue[strong]).max() < 0.05


def test_grey_fusion_records_no_colour_scale() -> None:
    ct = Volume(np.full((4, 4, 4), 40, np.int16), modality="CT", units="HU")
    mr = Volume(np.full((4, 4, 4), 300.0, np.float32), modality="MR", units="a.u.")
    assert "colour_scale" not in fuse([ct, mr], method="average").meta


def test_rgb_input_fuses_luma_and_keeps_chroma() -> None:
    grey = Volume(np.full((8, 8), 10, np.uint8))
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200
    colour = Volume(rgb, meta={"rgb": True})
    out = fuse([grey, colour], method="maximum")
    assert out.is_rgb and out.array.shape == (8, 8, 3)
    assert np.abs(out.array.astype(int) - rgb).max() <= 1


@pytest.mark.parametrize(
    ("volumes", "error", "message"),
    [
        ([Volume(np.zeros((4, 4), np.uint8)), Volume(np.zeros((5, 4), np.uint8))], GeometryError,
         r"input 2 is not on the grid of input 1: size \(4, 5\) vs \(4, 4\)"),
        ([Volume(np.zeros((4, 4), np.uint8)), Volume(np.zeros((4, 4, 4), np.uint8))], GeometryError,
         "cannot fuse a 2D input 1 with a 3D input 2"),
        ([Volume(np.zeros((4, 4), np.float32)), Volume(np.full((4, 4), np.nan, np.float32))],
         FusionError, "input 2 contains NaN"),
        ([Volume(np.zeros((4, 4), np.uint8))], FusionError, "at least two inputs, got 1"),
    ],
)
def test_bad_inputs_fail_with_one_clear_line(volumes: list[Volume], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        fuse(volumes, method="average")


@pytest.mark.parametrize("method", ["average", "maximum", "laplacian", "gff", "learned2d"])
def test_every_method_fuses_three_inputs_in_any_order(method: str) -> None:
    three = _pair() + [Volume(np.random.default_rng(5).integers(0, 256, (16, 16)).astype(np.uint8))]
    out = fuse(three, method=method)
    assert out.array.shape == (16, 16)
    np.testing.assert_array_equal(out.array, fuse(three[::-1], method=method).array)
    np.testing.assert_array_equal(out.array, fuse([three[1], three[2], three[0]], method=method).array)


def test_functional_and_anatomical_volumes_fuse_into_colour() -> None:
    rng = np.random.default_rng(2)
    ct = Volume((rng.random((3, 16, 16)) * 1400 - 1000).astype(np.int16), modality="CT", units="HU")
    pet = Volume(np.zeros((3, 16, 16), np.float32), modality="PT", units="SUVbw")
    out = fuse([pet, ct], method="maximum")
    assert out.is_rgb and out.array.shape == (3, 16, 16, 3) and out.units == "RGB"
    spread = out.array.astype(int).max(axis=-1) - out.array.astype(int).min(axis=-1)
    assert spread.max() <= 6  # no uptake: the anatomy stays grey (inferno's black is nearly grey)
    assert [i["units"] for i in out.meta["inputs"]] == ["HU", "SUVbw"]


def test_spacing_mismatch_names_the_remedy() -> None:
    a, b = _pair()
    b = Volume(b.array, spacing=(2.0, 2.0), meta={"source": "b.png"})
    with pytest.raises(GeometryError, match=r"input 2 \(b.png\) .* register and resample it first"):
        fuse([a, b], method="maximum")


def test_package_import_loads_neither_torch_nor_monai() -> None:
    code = ("import sys, medfuse.fusion as f; f.available_methods(); "
            "print('torch' in sys.modules or 'monai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_option_names_the_accepted_ones() -> None:
    with pytest.raises(FusionError, match=r"'laplacian' does not take the options \['level'\].*'levels'"):
        fuse(_pair(), method="laplacian", level=3)
