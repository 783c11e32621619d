"""Learned fusion networks shipped as MONAI bundles under ``medfuse/fusion/bundles/<name>``.

A bundle is ``configs/metadata.json``, ``configs/inference.json`` (``network_def`` built from MONAI
blocks, ``inferer``) and ``models/model.pt`` (a plain state dict, read with
``torch.load(weights_only=True)``: no arbitrary unpickling). 2D networks run slice by slice on volumes
along a chosen axis; 3D networks run with MONAI's sliding-window inference. Torch and MONAI are
imported on first use; a bundle loads once per process.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import FusionError
from medfuse.fusion.registry import FusionMethod

logger = logging.getLogger(__name__)

BUNDLES = Path(__file__).resolve().parent / "bundles"

__all__ = ["BUNDLES", "LEARNED_2D", "LEARNED_3D", "Bundle", "load_bundle", "run_bundle"]


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: the network in eval mode, its inferer, metadata and spatial dimensions."""

    name: str
    network: Any
    inferer: Any
    metadata: dict[str, Any]
    spatial_dims: int


def _bundle_files(folder: Path) -> tuple[Path, Path, Path]:
    files = (folder / "configs" / "inference.json", folder / "configs" / "metadata.json",
             folder / "models" / "model.pt")
    for path in files:
        if not path.is_file():
            raise FusionError("bundle file missing; retrain with `medfuse train` or reinstall",
                              path=path)
    return files


@functools.cache
def load_bundle(folder: str | Path) -> Bundle:
    """Load a fusion bundle folder with ``monai.bundle.ConfigParser``; the weights safely.

    Raises
    ------
    FusionError
        A bundle file is missing or the weights do not fit the network.
    """
    from medfuse._optional import require

    torch = require("torch")
    require("monai")
    from monai.bundle import ConfigParser

    folder = Path(folder)
    inference, metadata, weights = _bundle_files(folder)
    parser = ConfigParser()
    parser.read_config(str(inference))
    parser.read_meta(str(metadata))
    network = parser.get_parsed_content("network_def")
    try:
        state = torch.load(str(weights), map_location="cpu", weights_only=True)
        network.load_state_dict(state)
    except Exception as err:
        raise FusionError(f"cannot load the network weights ({err})", path=weights) from err
    network.eval()
    return Bundle(folder.name, network, parser.get_parsed_content("inferer"),
                  json.loads(metadata.read_text(encoding="utf-8")), int(network.spatial_dims))


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

    ``threads`` is the number of CPU threads to use: by default one for a 2D image (too little work
    to share; on a busy machine two threads run several times slower) and two for volumes. A 2D
    network on a volume runs one slice at a time on ``threads`` worker threads, each with one torch
    thread; a 3D network gives the threads to torch.
    """
    import torch

    stack = np.stack([a, b]).astype(np.float32, copy=False)
    if a.ndim == 2:
        if bundle.spatial_dims != 2:
            raise FusionError(f"bundle {bundle.name!r} is 3D and cannot fuse 2D images")
        with torch.inference_mode(), _torch_threads(threads or 1):
            return bundle.network(torch.from_numpy(stack)[None])[0, 0].numpy()
    threads = threads or min(2, os.cpu_count() or 1)
    if bundle.spatial_dims == 3:
        with torch.inference_mode(), _torch_threads(threads):
            return bundle.inferer(torch.from_numpy(stack)[None], bundle.network)[0, 0].numpy()
    if axis not in (0, 1, 2):
        raise FusionError(f"axis must be 0, 1 or 2 (array axes z, y, x), not {axis}")
    slices = np.moveaxis(stack, axis + 1, 0)  # (n, 2, h, w)
    out = np.empty(slices.shape[:1] + slices.shape[2:], np.float32)

    def fuse_slice(i: int) -> None:
        with torch.inference_mode():
            chunk = torch.from_numpy(np.ascontiguousarray(slices[i : i + 1]))
            out[i] = bundle.network(chunk)[0, 0].numpy()

    with _torch_threads(1), ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fuse_slice, range(len(slices))))
    return np.moveaxis(out, 0, axis)


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
