"""``medfuse view``: --screenshot waits for every view (the same command gives the same picture),
--at centres every view on an LPS point, --layout arranges the views; bad options are one line."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import real_data
from tests.napari.conftest import needs_display

napari = pytest.importorskip("napari")

AT = (60.0, 20.0, -700.0)  # LPS mm, in the STS_001 PET/CT field (the GTV centre is at z -791)


def _series():
    return [str(real_data("volumes", "sts", "STS_001", m, "dicom", "image")) for m in ("CT", "PET")]


@pytest.mark.gui
@needs_display
def test_three_runs_of_one_screenshot_command_give_the_same_picture(tmp_path):
    digests = []
    for run in range(3):
        out = tmp_path / f"run{run}.png"
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from medfuse.cli import main; sys.exit(main())",
             "view", *_series(), "--at", ",".join(map(str, AT)),
             "--screenshot", str(out)], capture_output=True, text=True, timeout=300,
            env=dict(os.environ))
        assert done.returncode == 0, done.stderr[-2000:]
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(set(digests)) == 1


@pytest.mark.gui
@needs_display
@pytest.mark.parametrize("layout, planes", [("2x2", ("coronal", "sagittal", "mip")),
                                            ("1x3", ("coronal", "sagittal")), ("single", ())])
def test_every_view_is_drawn_centred_on_the_at_point(make_napari_viewer, qtbot, tmp_path, layout,
                                                    planes):
    from medfuse.napari._app import launch, screenshot_window

    make_napari_viewer  # its isolated plugin registry, where launch's viewer registers MedFuse

    viewer, panels = launch(_series(), size=(1400, 900), layout=layout, at=AT)
    ortho = panels["Orthogonal views"]
    try:
        screenshot_window(viewer, panels, tmp_path / "window.png")
        assert tuple(ortho.models) == planes
        world = AT[::-1]
        assert np.allclose(viewer.dims.point, world, atol=3.3)  # the slice nearest the point
        for model in ortho.all_models():
            centre = [world[a] for a in model.dims.displayed]
            assert np.allclose(model.camera.center[-2:], centre, atol=1e-6)
        for plane, canvas in ortho._canvases.items():
            image = canvas.native.grabFramebuffer()
            data = np.asarray(image.constBits().asarray(image.sizeInBytes()), np.uint8)
            rgb = data.reshape(image.height(), image.width(), 4)[..., :3]
            assert np.count_nonzero(rgb.max(axis=-1) > 40) > 0.1 * rgb[..., 0].size, plane
        assert "SUVbw" in viewer.status and " HU" in viewer.status  # the readout at the point
    finally:
        ortho.detach()
        viewer.close()


@pytest.mark.parametrize("options, message", [
    (["--at", "1,2"], "--at must be three numbers X,Y,Z"),
    (["--at", "a,b,c"], "--at must be three numbers X,Y,Z"),
    (["--layout", "3x3"], "--layout must be one of 2x2, 1x3, single, not '3x3'"),
])
def test_bad_view_options_are_one_line(capsys, options, message):
    from medfuse.cli import main

    assert main(["view", *options, "--screenshot", "never.png"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("options, message", [
    (["--modality", "{pet}=ZZ"], "--modality {pet}=ZZ: unknown modality code; known: CT, MR"),
    (["--modality", "other.nii.gz=PT"], "--modality names 'other.nii.gz', which is not one of the "
                                         "files to view"),
    (["--units", "{pet}"], "--units must be PATH=UNITS, not '{pet}'"),
])
def test_bad_modality_or_units_is_one_line(capsys, options, message):
    from medfuse.cli import main

    pet = str(real_data("volumes", "sts", "STS_001", "PET", "nifti", "image", "image.nii.gz"))
    options = [o.format(pet=pet) for o in options]
    assert main(["view", pet, *options, "--screenshot", "never.png"]) == 2
    err = capsys.readouterr().err
    assert message.format(pet=pet) in err and len(err.strip().splitlines()) == 1


@pytest.mark.gui
@needs_display
def test_modality_and_units_override_the_nifti_guess(make_napari_viewer, tmp_path):
    from medfuse.napari._app import launch, screenshot_window

    make_napari_viewer  # its isolated plugin registry, where launch's viewer registers MedFuse

    pet = str(real_data("volumes", "sts", "STS_001", "PET", "nifti", "image", "image.nii.gz"))
    for overrides, expected in ((None, ("OT", "a.u.")), ({pet: ("PT", "SUVbw")}, ("PT", "SUVbw"))):
        viewer, panels = launch([pet], size=(1200, 800), layout="single", overrides=overrides)
        try:
            screenshot_window(viewer, panels, tmp_path / "window.png")
            (layer,) = viewer.layers
            assert (layer.metadata["modality"], layer.metadata["units"]) == expected
            if overrides:  # a PET now: windowed in SUV, its colour map, SUV in the readout
                assert tuple(layer.contrast_limits) == (0.0, 10.0)
                assert layer.colormap.name == "inferno" and "SUVbw" in viewer.status
        finally:
            panels["Orthogonal views"].detach()
            viewer.close()
