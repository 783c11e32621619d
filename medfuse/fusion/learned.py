"""Learned fusion networks shipped as MONAI bundles under ``medfuse/fusion/bundles/<name>``.

A bundle is ``configs/metadata.json``, ``configs/inference.json`` (``network_def`` built from MONAI
blocks, ``inferer``), ``models/model.pt`` (a plain state dict) and ``models/model.onnx`` (the same
trained network exported to ONNX by the training pipeline). Two loaders:

* **ONNX** (the inference path, for the bundles shipped in this package): ``model.onnx``, checked
  against the sha256 that ``configs/metadata.json`` records, runs in ONNX Runtime; the configs are
  read as plain JSON. Neither torch nor MONAI is imported (they cost seconds of start-up).
* **Reference** (``reference=True``, and any bundle folder outside the package): the network is built
  from ``network_def`` with ``monai.bundle.ConfigParser`` and ``model.pt`` is read with
  ``torch.load(weights_only=True)`` after its recorded sha256 is checked.

**Trust boundary.** A bundle's configs are data. Before MONAI sees them, :func:`check_config` refuses
any ``$`` expression, ``%`` macro, special key other than ``_target_``, and any ``_target_`` outside
the few classes the shipped bundles name (:data:`ALLOWED_TARGETS`), with a one-line error naming the
file and the key. ``trust_code=True`` lifts that check for a bundle whose code the user trusts.

2D networks run slice by slice on volumes along a chosen axis. A bundle loads once per process.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import pickle
import re
from collections.abc import Callable, Sequence
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
WEIGHTS, ONNX = "models/model.pt", "models/model.onnx"
#: the network class the shipped bundles build
NETWORK_TARGET = "medfuse.fusion.nets.SalienceDetailFusionNet"
#: the ``_target_`` values a bundle from outside the package may name (MONAI resolves the short one)
ALLOWED_TARGETS = frozenset({NETWORK_TARGET, "SimpleInferer", "monai.inferers.SimpleInferer"})
#: the lead (weight of the functional sources' base layers) the networks are trained at
LEAD = 0.5
#: images with a side under this are edge-padded to it before a network sees them: the networks'
#: reflect padding needs a side longer than their widest blur radius (8 px for the shipped one)
MIN_SIDE = 32

__all__ = ["ALLOWED_TARGETS", "BUNDLES", "LEAD", "LEARNED_2D", "Bundle", "check_config",
           "load_bundle", "run_bundle", "sha256"]


#: a network's forward pass on arrays: sources ``(1, S, H, W)``, roles ``(1, S)``, lead ``(1,)``,
#: all float32, to the fused ``(1, 1, H, W)``
Forward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: its forward pass, metadata and spatial dimensions.

    ``loader`` is ``"onnx"`` or ``"monai"``; ``network`` is the torch module for the MONAI
    loader (None for ONNX).
    """

    name: str
    forward: Forward
    metadata: dict[str, Any]
    spatial_dims: int
    loader: str
    network: Any = None


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


def check_config(config: Any, path: Path, key: str = "") -> None:
    """Refuse anything in a bundle config that would run code: the trust boundary for bundles.

    Raises
    ------
    FusionError
        A ``$`` expression, a ``%`` macro, a special key other than ``_target_``, or a
        ``_target_`` outside :data:`ALLOWED_TARGETS`; the message names the file and the key.
    """
    remedy = "bundle configs are data; pass trust_code=True (--trust-bundle-code) to run its code"
    if isinstance(config, dict):
        for name, value in config.items():
            where = f"{key}.{name}" if key else str(name)
            if name == "_target_":
                if value not in ALLOWED_TARGETS:
                    raise FusionError(f"key {where!r}: _target_ {str(value)[:80]!r} is not one of "
                                      f"{sorted(ALLOWED_TARGETS)}; {remedy}", path=path)
            elif isinstance(name, str) and (name.startswith(("_", "$", "%"))):
                raise FusionError(f"key {where!r}: special key {name[:40]!r} refused; {remedy}",
                                  path=path)
            else:
                check_config(value, path, where)
    elif isinstance(config, list):
        for i, value in enumerate(config):
            check_config(value, path, f"{key}[{i}]")
    elif isinstance(config, str) and config.lstrip().startswith(("$", "%")):
        raise FusionError(f"key {key!r}: expression {config.strip()[:40]!r} refused; {remedy}",
                          path=path)


def _parser(folder: Path, *, trust_code: bool) -> Any:
    """A ``monai.bundle.ConfigParser`` over the bundle's ``inference.json``, checked unless trusted."""
    config = _read_json(folder, INFERENCE)
    if not trust_code:
        check_config(config, folder / INFERENCE)
    require("monai")
    from monai.bundle import ConfigParser

    return ConfigParser(config)


def _is_shipped(folder: Path) -> bool:
    return folder.resolve().is_relative_to(BUNDLES)


def _checked_bytes(folder: Path, name: str, metadata: dict[str, Any], *, required: bool) -> bytes:
    """The bytes of a model file, checked against the sha256 that ``metadata.json`` records."""
    path = _bundle_file(folder, name)
    data = path.read_bytes()
    recorded = metadata.get("model_files", {}).get(name)
    if (recorded or required) and sha256(data) != recorded:
        raise FusionError(f"does not match the sha256 recorded in {METADATA}; retrain with "
                          "`medfuse train` or reinstall", path=path)
    return data


@functools.cache
def load_bundle(folder: str | Path, *, reference: bool = False, trust_code: bool = False) -> Bundle:
    """Load a fusion bundle folder: from ONNX if shipped here, else the MONAI reference way.

    Parameters
    ----------
    folder : the bundle folder (``BUNDLES / "fusion2d"``).
    reference : build the network with ``monai.bundle.ConfigParser`` from ``network_def`` and load
        ``model.pt`` with ``torch.load(weights_only=True)``, even for a shipped bundle. Bundles
        outside the package always load this way.
    trust_code : let the configs run code (``$`` expressions, any ``_target_``). Only for a bundle
        whose every file you would run as a Python script: such configs can do anything you can.

    Raises
    ------
    FusionError
        A bundle file is missing, a model file does not match its recorded checksum, a config
        would run code (without ``trust_code``), or the weights do not fit the network.
    """
    folder = Path(folder)
    metadata = _read_json(folder, METADATA)
    if not reference and _is_shipped(folder):
        data = _checked_bytes(folder, ONNX, metadata, required=True)
        check_config(_read_json(folder, INFERENCE), folder / INFERENCE)
        return Bundle(folder.name, _onnx_forward(data, folder / ONNX), metadata, 2, "onnx")
    return _reference_bundle(folder, metadata, trust_code=trust_code)


def _onnx_forward(data: bytes, path: Path) -> Forward:
    """The forward pass of an ONNX model in ONNX Runtime: one thread a call (small images lose
    from sharing threads; volumes run several slices at once instead), without the NCHWc layout
    pass (it reorders the blurs' single-channel convolutions in and out: 17 against 12 ms for a
    256 x 256 pair)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"],
                                       disabled_optimizers=["NchwcTransformer"])
    except Exception as err:
        raise FusionError(f"cannot load the ONNX network ({_first_line(err)})", path=path) from err

    def forward(x: np.ndarray, roles: np.ndarray, lead: np.ndarray) -> np.ndarray:
        return session.run(None, {"x": x, "roles": roles, "lead": lead})[0]

    return forward


def _reference_bundle(folder: Path, metadata: dict[str, Any], *, trust_code: bool) -> Bundle:
    """The network built by MONAI from ``network_def``, with the weights of ``model.pt``."""
    torch = require("torch")
    parser = _parser(folder, trust_code=trust_code)
    data = _checked_bytes(folder, WEIGHTS, metadata, required=False)
    network = parser.get_parsed_content("network_def")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise FusionError("refused: the file holds Python objects, not only tensors (weights load "
                          "with torch.load(weights_only=True))", path=folder / WEIGHTS) from err
    except Exception as err:
        raise FusionError(f"cannot read the network weights ({_first_line(err)})",
                          path=folder / WEIGHTS) from err
    try:
        network.load_state_dict(state)
    except Exception as err:
        raise FusionError(f"the weights do not fit the network ({_first_line(err)})",
                          path=folder / WEIGHTS) from err
    network.eval()
    inferer = parser.get_parsed_content("inferer")

    def forward(x: np.ndarray, roles: np.ndarray, lead: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            inputs = (torch.from_numpy(a) for a in (x, roles, lead))
            return inferer(next(inputs), network, *inputs).numpy()

    return Bundle(folder.name, forward, metadata, int(network.spatial_dims), "monai", network)


def _first_line(err: BaseException) -> str:
    """The first non-empty line of an error's message (torch's unpickling errors run to pages)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # torch colours parts of its messages
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else type(err).__name__


def run_bundle(bundle: Bundle, arrays: Sequence[np.ndarray], roles: Sequence[float], *,
               lead: float = LEAD, axis: int = 0, threads: int | None = None) -> np.ndarray:
    """Fuse normalised arrays of one shape (2D, or 3D slice by slice) with ``bundle``.

    ``roles`` gives 1 for each functional source and 0 for each anatomical one; ``lead`` in [0, 1]
    tilts the base layers towards the functional (1) or the anatomical (0) sources. A volume runs
    one slice at a time on ``threads`` worker threads (default two).
    """
    if not 0.0 <= lead <= 1.0:
        raise FusionError(f"weight must be between 0 and 1, not {lead}")
    role_array = np.array([roles], np.float32)
    lead_array = np.array([lead], np.float32)

    def fuse_image(images: Sequence[np.ndarray]) -> np.ndarray:
        stack, crop = _network_input(images)
        return bundle.forward(stack, role_array, lead_array)[0, 0][crop]

    if arrays[0].ndim == 2:
        return fuse_image(arrays)
    threads = threads or min(2, os.cpu_count() or 1)
    if axis not in (0, 1, 2):
        raise FusionError(f"axis must be 0, 1 or 2 (array axes z, y, x), not {axis}")
    slices = [np.moveaxis(a, axis, 0) for a in arrays]
    out = np.empty(slices[0].shape, np.float32)

    def fuse_slice(i: int) -> None:
        out[i] = fuse_image([s[i] for s in slices])

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fuse_slice, range(len(out))))
    return np.moveaxis(out, 0, axis)


def _network_input(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, tuple[slice, slice]]:
    """``(1, S, H, W)`` float32 stack of the arrays (one copy), edge-padded to at least
    :data:`MIN_SIDE` a side, and the crop that takes the output back to the arrays' shape."""
    height, width = arrays[0].shape
    padded = (max(height, MIN_SIDE), max(width, MIN_SIDE))
    stack = np.empty((1, len(arrays), *padded), np.float32)
    for i, array in enumerate(arrays):
        stack[0, i] = (array if padded == (height, width) else
                       np.pad(array, [(0, padded[0] - height), (0, padded[1] - width)], mode="edge"))
    return stack, (slice(0, height), slice(0, width))


def _fuse_learned(arrays: Sequence[np.ndarray], *, roles: Sequence[float],
                  weight: float | None = None, axis: int = 0, bundle: str | Path | None = None,
                  trust_code: bool = False, threads: int | None = None) -> np.ndarray:
    """Fuse with the shipped 2D network, or the bundle folder ``bundle`` (see :func:`load_bundle`).

    ``weight`` (0..1) is the lead of the functional sources; None: the value the bundle was
    trained at (``lead`` in its metadata, 0.5).
    """
    loaded = load_bundle(Path(bundle) if bundle else BUNDLES / "fusion2d", trust_code=trust_code)
    lead = float(loaded.metadata.get("lead", LEAD)) if weight is None else float(weight)
    return run_bundle(loaded, arrays, roles, lead=lead, axis=axis, threads=threads)


LEARNED_2D = FusionMethod(
    "learned2d", _fuse_learned,
    "MONAI salience-detail network, 2D, any number of sources (slice by slice on volumes); the default",
    learned=True,
)
