"""The plugin inventory, ``medfuse plugins``, broken plugins, refresh and the io hand-off to loaders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medfuse.cli import main
from medfuse.errors import InputError, InvalidSeriesError
from medfuse.io import load, write_nifti
from medfuse.modalities import available_modalities, get_modality
from medfuse.plugins import list_plugins, refresh
from medfuse.volume import Volume

BROKEN_FILES = {
    "medfuse_broken/__init__.py": "",
    "medfuse_broken/needs_missing.py": "import medfuse_no_such_dependency_xyz\nSPEC = None\n",
    "medfuse_broken/not_a_spec.py": "SPEC = 42\n",
    "medfuse_broken/bad_syntax.py": "def fuse(volumes:\n",
}
BROKEN_ENTRY_POINTS = {
    "medfuse.modalities": {
        "MISSING": "medfuse_broken.needs_missing:SPEC",
        "NOTSPEC": "medfuse_broken.not_a_spec:SPEC",
    },
    "medfuse.fusion": {"broken_fuse": "medfuse_broken.bad_syntax:fuse"},
}

TOY_FILES = {
    "medfuse_toy/__init__.py": '''
import numpy as np
from medfuse.modalities import ModalitySpec
from medfuse.volume import Volume


def read_toy(path):
    """Read a .toy file: one line of numbers, a 1 x 1 x n volume."""
    values = np.array(path.read_text().split(), dtype=np.float32)
    if values.size == 0:
        raise ValueError("no numbers")
    if values[0] < 0:
        return "not a volume"
    return Volume(values.reshape(1, 1, -1), modality="TOY", units="mV")


TOY = ModalitySpec(code="TOY", name="Toy format", file_patterns=("*.toy",), default_units="mV",
                   loader=read_toy)
US = ModalitySpec(code="US", name="Ultrasound", file_patterns=("*_us.nii.gz",), default_units="dB")


def average(volumes, *, weight=0.5):
    """Weighted average of two volumes on one grid."""
    return volumes[0].with_array(weight * volumes[0].array + (1 - weight) * volumes[1].array)
''',
}
TOY_ENTRY_POINTS = {
    "medfuse.modalities": {"TOY": "medfuse_toy:TOY", "US": "medfuse_toy:US"},
    "medfuse.fusion": {"toy_average": "medfuse_toy:average"},
}


def test_builtins_are_listed_with_origin_medfuse(capsys) -> None:
    assert main(["plugins", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    builtins = {e["name"]: e for e in entries if e["kind"] == "modality" and e["origin"] == "medfuse"}
    assert {"CT", "MR", "PT", "NM"} <= set(builtins)
    assert all(e["status"] == "ok" for e in builtins.values())
    assert "Computed tomography" in builtins["CT"]["detail"]
    assert set(entries[0]) == {"kind", "name", "origin", "detail", "status"}


def test_broken_plugins_are_reported_and_skipped(fake_install, capsys) -> None:
    fake_install("medfuse-broken", entry_points=BROKEN_ENTRY_POINTS, files=BROKEN_FILES)
    failed = {(e.kind, e.name): e for e in list_plugins() if e.status == "failed"}
    assert failed[("modality", "MISSING")].origin == "medfuse-broken"
    assert "ModuleNotFoundError" in failed[("modality", "MISSING")].detail
    assert "must give a ModalitySpec, not int" in failed[("modality", "NOTSPEC")].detail
    assert "SyntaxError" in failed[("fusion", "broken_fuse")].detail
    # the app keeps working: built-ins load, broken codes fall back to the generic spec
    assert get_modality("CT").default_units == "HU"
    assert "MISSING" not in available_modalities() and get_modality("NOTSPEC").code == "OT"
    assert main(["plugins"]) == 0
    table = capsys.readouterr().out
    assert "failed" in table and "MISSING" in table and "CT" in table



def test_plugin_that_exits_on_import_is_named_and_skipped(fake_install, tmp_path, capsys) -> None:
    """``sys.exit(3)`` at import time: ``plugins``, ``info`` and ``fuse`` still run and exit 0."""
    fake_install("medfuse-exits", entry_points={
        "medfuse.modalities": {"EXITS": "medfuse_exits:SPEC"},
        "medfuse.fusion": {"exits_fuse": "medfuse_exits:fuse"},
    }, files={"medfuse_exits/__init__.py": "import sys\nsys.exit(3)\n"})
    assert main(["plugins"]) == 0
    table = capsys.readouterr().out
    assert "EXITS" in table and "exits_fuse" in table and "SystemExit: 3" in table
    a, b = tmp_path / "a.nii.gz", tmp_path / "b.nii.gz"
    write_nifti(Volume(np.arange(24, dtype=np.float32).reshape(2, 3, 4)), a)
    write_nifti(Volume(np.ones((2, 3, 4), np.float32)), b)
    assert main(["info", str(a)]) == 0
    assert main(["fuse", str(a), str(b), "-o", str(tmp_path / "f.nii.gz"), "--method", "maximum"]) == 0
    assert load(tmp_path / "f.nii.gz").array.shape == (2, 3, 4)

def test_installed_plugin_is_seen_and_refresh_forgets_it(fake_install, monkeypatch) -> None:
    assert "TOY" not in available_modalities()
    fake_install("medfuse-toy", entry_points=TOY_ENTRY_POINTS, files=TOY_FILES)
    entries = {(e.kind, e.name): e for e in list_plugins()}
    assert entries[("modality", "TOY")].origin == "medfuse-toy"
    assert "own loader" in entries[("modality", "TOY")].detail
    assert entries[("fusion", "toy_average")].detail == "Weighted average of two volumes on one grid."
    monkeypatch.undo()  # "uninstall": the dist-info leaves sys.path
    refresh()
    assert "TOY" not in available_modalities()


def test_load_hands_claimed_files_to_the_plugin_loader(fake_install, tmp_path) -> None:
    fake_install("medfuse-toy", entry_points=TOY_ENTRY_POINTS, files=TOY_FILES)
    path = tmp_path / "signal.TOY"  # patterns match case-insensitively
    path.write_text("1 2 3.5")
    volume = load(path)
    assert (volume.modality, volume.units, volume.size) == ("TOY", "mV", (3, 1, 1))


def test_file_pattern_without_loader_names_the_modality(fake_install, tmp_path) -> None:
    fake_install("medfuse-toy", entry_points=TOY_ENTRY_POINTS, files=TOY_FILES)
    path = write_nifti(Volume(np.ones((2, 3, 4), np.float32)), tmp_path / "liver_us.nii.gz")
    assert (load(path).modality, load(path).units) == ("US", "dB")
    assert load(path, modality="MR").modality == "MR"  # the caller still decides


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        ("", InputError, r"file is empty"),
        ("   ", InvalidSeriesError, r"the TOY modality plugin could not read it \(ValueError: no numbers\)"),
        ("-1 2", InvalidSeriesError, r"the TOY modality plugin's loader must return a Volume, not str"),
    ],
)
def test_plugin_loader_failures_name_the_file(fake_install, tmp_path, content, error, message) -> None:
    fake_install("medfuse-toy", entry_points=TOY_ENTRY_POINTS, files=TOY_FILES)
    path = tmp_path / "bad.toy"
    path.write_text(content)
    with pytest.raises(error, match=message) as caught:
        load(path)
    assert str(path) in str(caught.value)


PRESET_FILES = {
    "medfuse_presetpack/__init__.py": (
        "from importlib.resources import files\n"
        "TWO_STAGES = [files('medfuse_presetpack') / 'a.txt', files('medfuse_presetpack') / 'b.txt']\n"
        "MISSING = files('medfuse_presetpack') / 'nowhere.txt'\n"
    ),
    "medfuse_presetpack/a.txt": '(Transform "EulerTransform")\n(Metric "AdvancedMattesMutualInformation")\n',
    "medfuse_presetpack/b.txt": '(Transform "BSplineTransform")\n(FinalGridSpacingInPhysicalUnits 20)\n',
}
PRESET_ENTRY_POINTS = {
    "medfuse.presets": {
        "two_stage": "medfuse_presetpack:TWO_STAGES",
        "gone": "medfuse_presetpack:MISSING",
        "rigid": "medfuse_presetpack:TWO_STAGES",  # a built-in name: refused
    },
}


def test_plugin_presets_are_listed_and_loaded(fake_install) -> None:
    from medfuse.registration import load_preset

    fake_install("medfuse-presetpack", entry_points=PRESET_ENTRY_POINTS, files=PRESET_FILES)
    presets = {(e.name, e.origin): e for e in list_plugins() if e.kind == "preset"}
    assert presets[("two_stage", "medfuse-presetpack")].detail == "elastix stages: a.txt, b.txt"
    assert presets[("rigid", "medfuse")].status == "ok"
    assert presets[("rigid", "medfuse-presetpack")].status == "failed"
    assert "taken by a built-in preset" in presets[("rigid", "medfuse-presetpack")].detail
    assert presets[("gone", "medfuse-presetpack")].status == "failed"
    assert "missing parameter file" in presets[("gone", "medfuse-presetpack")].detail
    stages = load_preset("two_stage")
    assert [s["Transform"] for s in stages] == [["EulerTransform"], ["BSplineTransform"]]
    assert load_preset("rigid")[0]["Transform"] == ["EulerTransform"]  # the built-in one
