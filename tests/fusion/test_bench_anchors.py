"""The benchmark's published anchors (benchmarks/fusion_anchors.py): found by variable, skipped with a
reason when absent, weights read as tensors only."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from medfuse.volume import Volume

pytest.importorskip("torch")

ANCHORS_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "fusion_anchors.py"


@pytest.fixture(scope="module")
def anchors():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("fusion_anchors", ANCHORS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_anchors_absent_are_skipped_with_the_variable_named(anchors, monkeypatch) -> None:  # noqa: ANN001
    for variable, _ in anchors.ANCHORS.values():
        monkeypatch.delenv(variable, raising=False)
    reasons: list[str] = []
    assert anchors.anchor_methods(reasons.append) == {}
    assert reasons == [f"anchor {name} skipped: {variable} is not set (a checkout of its repository)"
                       for name, (variable, _) in anchors.ANCHORS.items()]


def test_a_checkout_without_its_weights_is_skipped(anchors, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    for variable, _ in anchors.ANCHORS.values():
        monkeypatch.setenv(variable, str(tmp_path))
    reasons: list[str] = []
    assert anchors.anchor_methods(reasons.append) == {}
    assert reasons[0] == f"anchor ifcnn skipped: {tmp_path / 'Code/snapshots/IFCNN-MAX.pth'} not found"


class Payload:
    """An object a weights file could smuggle in; never built by the loader."""


def test_weights_holding_objects_are_refused(anchors, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    import torch

    code = tmp_path / "Code"
    (code / "snapshots").mkdir(parents=True)
    (code / "model.py").write_text(
        "import torch\n"
        "def myIFCNN(fuse_scheme=0):\n"
        "    return torch.nn.Conv2d(3, 3, 1)\n")
    torch.save({"weight": Payload()}, code / "snapshots" / "IFCNN-MAX.pth")
    monkeypatch.setenv("MEDFUSE_ANCHOR_IFCNN", str(tmp_path))
    for name in ("gifnet", "matr"):
        monkeypatch.delenv(anchors.ANCHORS[name][0], raising=False)
    reasons: list[str] = []
    assert anchors.anchor_methods(reasons.append) == {}
    assert reasons[0].startswith("anchor ifcnn skipped: UnpicklingError: Weights only load failed")


@pytest.mark.skipif(not os.environ.get("MEDFUSE_ANCHOR_IFCNN"),
                    reason="MEDFUSE_ANCHOR_IFCNN (a checkout of uzeful/IFCNN) is not set")
def test_ifcnn_fuses_roles_not_positions(anchors) -> None:  # noqa: ANN001
    method = anchors.anchor_methods()["ifcnn"]
    rng = np.random.default_rng(0)
    mr = Volume((rng.random((64, 64)) * 255).astype(np.uint8))
    pet = Volume((rng.random((64, 64, 3)) * 255).astype(np.uint8), meta={"rgb": True})
    fused = method([mr, pet])
    assert fused.array.shape == (64, 64, 3)
    assert np.array_equal(fused.array, method([pet, mr]).array)
