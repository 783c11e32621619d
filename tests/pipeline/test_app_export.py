"""The app's Export panel, driven as a user drives it: register the sample PET in the Register panel,
then write the study folder from the Export panel; the numbers are those of the workflow API on the
same series, with the registration the user ran (not a default re-run)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.skipif(
    not os.environ.get("DISPLAY"),
    reason="GUI test needs a display with OpenGL: run under xvfb-run (see Makefile `test`)")]
napari = pytest.importorskip("napari")


def test_export_writes_the_study_the_user_registered(make_napari_viewer, qtbot, tmp_path):
    from medfuse.napari._app import build_window
    from medfuse.napari._layers import layer_to_volume
    from medfuse.napari._sample_data import sample_study
    from medfuse.napari._widgets._study import add_layer_data
    from medfuse.workflow import StudyInputs, run_study, write_study

    viewer = make_napari_viewer(show=True)
    panels = build_window(viewer)
    add_layer_data(viewer, sample_study())
    qtbot.waitUntil(lambda: panels["Orthogonal views"].synced, timeout=30_000)
    ct_layer, pet_layer = viewer.layers["CT phantom"], viewer.layers["PT FDG PET phantom"]
    ct, pet = layer_to_volume(ct_layer), layer_to_volume(pet_layer)
    masks = [layer_to_volume(x) for x in viewer.layers if x.__class__.__name__ == "Labels"]
    register, export = panels["Register"], panels["Export"]
    try:
        register.fixed.value, register.moving.value = ct_layer.name, pet_layer.name
        register.mode.value = "register"
        register.start()
        qtbot.waitUntil(lambda: not register.runner.running, timeout=300_000)
        assert "failed" not in register.runner.status.text(), register.runner.status.text()
        export.folder.value = tmp_path / "export"  # the study goes into its study/ sub-folder
        export.fixed.value, export.moving.value = ct_layer.name, pet_layer.name
        export.report()
        qtbot.waitUntil(lambda: not export.runner.running, timeout=300_000)
        assert "failed" not in export.runner.status.text(), export.runner.status.text()
    finally:
        panels["Orthogonal views"].detach()
    api = run_study(StudyInputs(fixed=ct, moving=[pet], masks=masks), registration_mode="register")
    write_study(api, tmp_path / "api", items=("registered", "fused", "masks"),
                formats=("nifti", "png", "transforms"))
    folders = {"app": tmp_path / "export" / "study", "api": tmp_path / "api"}
    files = {name: sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
             for name, folder in folders.items()}
    assert files["app"] == files["api"] and "transforms/pt/transform.tfm" in files["app"]
    docs = {name: json.loads((folder / "report.json").read_text()) for name, folder in folders.items()}
    assert docs["app"]["registration"][0]["method"] == "registration"
    assert docs["app"]["registration"][0]["metrics"]["mi_after"] == pytest.approx(
        api.registrations[0].metrics["mi_after"], rel=1e-9)
    for ours, theirs in zip(docs["app"]["rois"], docs["api"]["rois"], strict=True):
        assert (ours["series"], ours["name"]) == (theirs["series"], theirs["name"])
        for key in ("volume_ml", "mean", "max", "suv_max", "suv_mean", "suv_peak"):
            if theirs.get(key) is not None:
                assert ours[key] == pytest.approx(theirs[key], rel=1e-9), key
    assert np.isfinite(docs["app"]["fusion"]["metrics"]["EN"])
