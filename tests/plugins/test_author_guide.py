"""Follow docs/plugins.md literally: write its files, install the plugin, and check MedFuse sees it.

Every fenced block of the guide with a ``title="..."`` is a file of the plugin. "Installing" is a
``*.dist-info`` with the guide's entry points on ``sys.path`` (what pip would leave, without pip).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from medfuse.cli import main
from medfuse.io import load, write_nifti
from medfuse.modalities import get_modality
from medfuse.volume import Volume

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
BLOCK = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def guide_files() -> dict[str, str]:
    """``{path: text}`` of the guide's titled code blocks."""
    files = dict(BLOCK.findall(GUIDE.read_text(encoding="utf-8")))
    assert len(files) == len(BLOCK.findall(GUIDE.read_text(encoding="utf-8"))), "a file shown twice"
    return files


@pytest.fixture
def psma(fake_install) -> Path:
    """The guide's plugin, installed as the guide says (entry points from its pyproject.toml)."""
    files = guide_files()
    project = tomllib.loads(files["medfuse-psma/pyproject.toml"])["project"]
    return fake_install(project["name"], entry_points=project["entry-points"], files=files,
                        source="medfuse-psma/src")


def test_guide_shows_a_complete_package() -> None:
    assert set(guide_files()) == {
        "medfuse-psma/pyproject.toml",
        "medfuse-psma/src/medfuse_psma/__init__.py",
        "medfuse-psma/src/medfuse_psma/modality.py",
        "medfuse-psma/src/medfuse_psma/fusion.py",
        "medfuse-psma/src/medfuse_psma/presets.py",
        "medfuse-psma/src/medfuse_psma/psma_rigid.txt",
        "medfuse-psma/tests/test_psma.py",
    }


def test_medfuse_plugins_lists_the_guide_plugin(psma, capsys) -> None:
    assert main(["plugins", "--json"]) == 0
    entries = {(e["kind"], e["name"]): e for e in json.loads(capsys.readouterr().out)}
    assert entries[("modality", "PSMA")]["origin"] == "medfuse-psma"
    assert entries[("fusion", "uptake_blend")]["status"] == "ok"
    assert entries[("preset", "psma_rigid")]["detail"] == "elastix stages: psma_rigid.txt"
    # the table the guide prints in section 6
    assert entries[("modality", "PSMA")]["detail"] in GUIDE.read_text(encoding="utf-8")
    assert entries[("fusion", "uptake_blend")]["detail"] in GUIDE.read_text(encoding="utf-8")


def test_info_on_a_psma_file_as_the_guide_says(psma, tmp_path, capsys) -> None:
    image = Volume(np.linspace(0, 12, 24, dtype=np.float32).reshape(2, 3, 4), spacing=(4, 4, 4))
    path = write_nifti(image, tmp_path / "patient7_psma.nii.gz")
    assert main(["info", str(path), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["modality"], entry["units"]) == ("PSMA", "SUVbw")
    assert get_modality(load(path).modality).colormap == "magma"


def test_guide_tests_pass_against_the_installed_plugin(psma) -> None:
    paths = [str(psma), str(psma / "medfuse-psma" / "src"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # the guide's tests need no pytest plugins
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
         str(psma / "medfuse-psma" / "tests")],
        cwd=psma, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "5 passed" in done.stdout
