"""Learned fusion networks shipped as MONAI bundles under ``medfuse/fusion/bundles/<name>``.

A bundle is ``configs/metadata.json``, ``configs/inference.json`` (``network_def`` built from MONAI
blocks, ``inferer``), ``models/model.pt`` (a plain state dict) and ``models/model.ts`` (the same
trained network compiled to TorchScript by the training pipeline). Two loaders:

* **TorchScript** (the inference path, for the bundles shipped in this package): ``model.ts``, checked
  against the sha256 that ``configs/metadata.json`` records, is read with ``torch.jit.load``; the
  configs are read as plain JSON. MONAI is not imported for 2D networks (it costs seconds of start-up);
  3D networks import it for its sliding-window inferer.
* **Reference** (``reference=True``, and any bundle folder outside the package): the network is built
  from ``network_def`` with ``monai.bundle.ConfigParser`` and ``model.pt`` is read with
  ``torch.load(weights_only=True)``: no arbitrary unpickling, no code from the bundle folder.

2D networks run slice by slice on volumes along a chosen axis; 3D networks run with MONAI's
sliding-window inference. Torch is imported on first use; a bundle loads once per process.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medfuse._optional import require
from medfuse.errors import FusionError
from medfuse.fusion.registry import FusionMethod

logger = logging.getLogger(__name__)

BUNDLES = Path(__file__).resolve().parent / "bundles"
#: bundle files, relative to the bundle folder
INFERENCE, METADATA = "configs/inference.json", "configs/metadata.json"
WEIGHTS, TORCHSCRIPT = "models/model.pt", "models/model.ts"

__all__ = ["BUNDLES", "LEARNED_2D", "LEARNED_3D", "Bundle", "load_bundle", "run_bundle", "sha256"]


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: the network in eval mode, its inferer, metadata and spatial dimensions.

    ``inferer`` is None for 2D networks loaded from TorchScript: they are called directly, which is
    all MONAI's ``SimpleInferer`` does. ``loader`` is ``"torchscript"`` or ``"monai"``.
    """

    name: str
    network: Any
    inferer: Any
    metadata: dict[str, Any]
    spatial_dims: int
    loader: str


def _bundle_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise FusionError("bundle file missing; retrain with `medfuse train` or reinstall", path=path)
    return path


def _read_json(folder: Path, name: str) -> dict[str, Any]:
    path = _bundle_file(folder, name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise FusionError(f"not a readable JSON file ({err})", path=path) from err


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (as recorded in a bundle's ``metadata.json``)."""
    return hashlib.sha256(data).hexdigest()


def _parser(folder: Path) -> Any:
    """A ``monai.bundle.ConfigParser`` over the bundle's ``inference.json`` (imports MONAI)."""
    require("monai")
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(_bundle_file(folder, INFERENCE)))
    return parser


def _is_shipped(folder: Path) -> bool:
    return folder.resolve().is_relative_to(BUNDLES)


@functools.cache
def load_bundle(folder: str | Path, *, reference: bool = False) -> Bundle:
    """Load a fusion bundle folder: from TorchScript if shipped here, else the MONAI reference way.

    Parameters
    ----------
    folder : the bundle folder (``BUNDLES / "fusion2d"``).
    reference : build the network with ``monai.bundle.ConfigParser`` from ``network_def`` and load
        ``model.pt`` with ``torch.load(weights_only=True)``, even for a shipped bundle. Bundles
        outside the package always load this way: their TorchScript is not trusted.

    Raises
    ------
    FusionError
        A bundle file is missing, ``model.ts`` does not match its recorded checksum, or the
        weights do not fit the network.
    """
    torch = require("torch")
    folder = Path(folder)
    metadata = _read_json(folder, METADATA)
    if not reference and _is_shipped(folder):
        path = _bundle_file(folder, TORCHSCRIPT)
        data = path.read_bytes()
        if sha256(data) != metadata.get("model_files", {}).get(TORCHSCRIPT):
            raise FusionError(f"does not match the sha256 recorded in {METADATA}; retrain with "
                              "`medfuse train` or reinstall", path=path)
        try:
            network = torch.jit.load(io.BytesIO(data), map_location="cpu").eval()
        except Exception as err:
            raise FusionError(f"cannot load the TorchScript network ({err})", path=path) from err
        dims = int(_read_json(folder, INFERENCE)["network_def"]["spatial_dims"])
        inferer = _parser(folder).get_parsed_content("inferer") if dims == 3 else None
        return Bundle(folder.name, network, inferer, metadata, dims, "torchscript")
    parser = _parser(folder)
    network = parser.get_parsed_content("network_def")
    weights = _bundle_file(folder, WEIGHTS)
    try:
        network.load_state_dict(torch.load(str(weights), map_location="cpu", weights_only=True))
    except Exception as err:
        raise FusionError(f"cannot load the network weights ({err})", path=weights) from err
    network.eval()
    return Bundle(folder.name, network, parser.get_parsed_content("inferer"), metadata,
                  int(network.spatial_dims), "monai")


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (unchanged when None), restoring the setting after."""
    import torch

    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def run_bundle(bundle: Bundle, a: np.ndarray, b: np.ndarray, *, axis: int = 0,
               threads: int | None = None) -> np.ndarray:
    """Fuse two normalised arrays of one shape with ``bundle`` (2D, or 3D slice-wise / windowed).

    ``threads`` is the number of CPU threads to use. A 2D network on a volume runs one slice at a
    time on ``threads`` worker threads (default two), each with one torch thread. A 2D image and a
    3D network get ``threads`` torch threads, by default one: torch's threads wait for each other
    at every operation, and on a shared, busy 2-core machine two of them ran a 3D network 5-7 times
    slower than one (``benchmarks/results_fusion.md``); pass ``threads=2`` on an idle machine.
    """
    if a.ndim == 2:
        if bundle.spatial_dims != 2:
            raise FusionError(f"bundle {bundle.name!r} is 3D and cannot fuse 2D images")
        with _inference(), _torch_threads(threads or 1):
            return bundle.network(_pair_tensor(a, b))[0, 0].numpy()
    if bundle.spatial_dims == 3:
        with _inference(), _torch_threads(threads or 1):
            return bundle.inferer(_pair_tensor(a, b), bundle.network)[0, 0].numpy()
    threads = threads or min(2, os.cpu_count() or 1)
    if axis not in (0, 1, 2):
        raise FusionError(f"axis must be 0, 1 or 2 (array axes z, y, x), not {axis}")
    a_slices, b_slices = np.moveaxis(a, axis, 0), np.moveaxis(b, axis, 0)
    out = np.empty(a_slices.shape, np.float32)

    def fuse_slice(i: int) -> None:
        with _inference():
            out[i] = bundle.network(_pair_tensor(a_slices[i], b_slices[i]))[0, 0].numpy()

    with _torch_threads(1), ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fuse_slice, range(len(out))))
    return np.moveaxis(out, 0, axis)


@contextlib.contextmanager
def _inference() -> Iterator[None]:
    """``torch.inference_mode`` without TorchScript's profiling optimiser.

    The optimiser profiles the first calls of a scripted network (about 50 ms) and gains nothing
    measurable on these small networks; the graph runs as compiled, with the same results.
    """
    import torch

    with torch.inference_mode(), torch.jit.optimized_execution(False):
        yield


def _pair_tensor(a: np.ndarray, b: np.ndarray) -> Any:
    """``(1, 2, *spatial)`` float32 tensor of two arrays (one contiguous copy, no float64)."""
    import torch

    stack = np.empty((1, 2, *a.shape), np.float32)
    stack[0, 0], stack[0, 1] = a, b
    return torch.from_numpy(stack)


def _learned(name: str):  # noqa: ANN202
    def fuse_arrays(arrays: Sequence[np.ndarray], *, axis: int = 0, bundle: str | None = None,
                    threads: int | None = None) -> np.ndarray:
        loaded = load_bundle(Path(bundle) if bundle else BUNDLES / name)
        return run_bundle(loaded, arrays[0], arrays[1], axis=axis, threads=threads)

    fuse_arrays.__name__ = f"fuse_{name}"
    return fuse_arrays


LEARNED_2D = FusionMethod(
    "learned2d", _learned("fusion2d"),
    "MONAI max-detail network, 2D (slice by slice along `axis` on volumes); the default",
    learned=True,
)
LEARNED_3D = FusionMethod(
    "learned3d", _learned("fusion3d"),
    "MONAI max-detail network, 3D, sliding-window inference (volumes only)",
    learned=True,
)
