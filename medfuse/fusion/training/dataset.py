"""Training data: Harvard atlas 2D pairs split by case, with each source's role, and degradations.

Reads the files directly (PIL): the fusion engine does not depend on ``medfuse.io``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medfuse.errors import FusionError
from medfuse.fusion.colour import luma

logger = logging.getLogger(__name__)

#: modality folders of functional images (pseudo-colour PET/SPECT); the others are anatomical
FUNCTIONAL_FOLDERS = ("PET", "SPECT")


@dataclass(frozen=True)
class Pair:
    """Registered sources ``(S, H, W)`` normalised to [0, 1] float32, their roles, type and case."""

    id: str
    kind: str
    case: str
    sources: np.ndarray
    roles: tuple[float, ...]


def case_of(stem: str) -> str:
    """The Harvard case id of a file stem: the stem minus its 3-digit slice number."""
    return stem[:-3]


def _read_luma(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)
    return (luma(array, rgb=array.ndim == 3) / 255.0).astype(np.float32)


def modality_folders(kind_dir: Path) -> list[Path]:
    """The two modality folders of a pair type, anatomical first (CT or MRI)."""
    mods = sorted((p for p in kind_dir.iterdir() if p.is_dir()),
                  key=lambda p: (p.name in FUNCTIONAL_FOLDERS, p.name not in ("CT", "MRI"), p.name))
    if len(mods) != 2:
        raise FusionError(f"expected two modality folders, found {len(mods)}", path=kind_dir)
    return mods


def harvard_pairs(root: str | Path, *, val_cases: Mapping[str, Sequence[str]],
                  split: str) -> list[Pair]:
    """Pairs of ``root/<PAIR>/<MOD>/<id>.png``; ``split`` is ``"train"`` or ``"val"`` (by case).

    A pseudo-colour image contributes its BT.601 luma and the functional role.
    """
    root = Path(root)
    if not root.is_dir():
        raise FusionError("training data folder not found", path=root)
    pairs: list[Pair] = []
    for kind_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        mods = modality_folders(kind_dir)
        roles = tuple(float(m.name in FUNCTIONAL_FOLDERS) for m in mods)
        held_out = set(val_cases.get(kind_dir.name, ()))
        for file in sorted(mods[0].glob("*.png")):
            other = mods[1] / file.name
            case = case_of(file.stem)
            if not other.exists() or (case in held_out) != (split == "val"):
                continue
            pairs.append(Pair(file.stem, kind_dir.name, case,
                              np.stack([_read_luma(file), _read_luma(other)]), roles))
    if not pairs:
        raise FusionError(f"no {split} pairs found", path=root)
    logger.info("%d %s pairs from %s", len(pairs), split, root)
    return pairs


def degrade(sources: np.ndarray, roles: Sequence[float], rng: np.random.Generator, *,
            noise: float, counts: tuple[float, float], probability: float) -> np.ndarray:
    """The network's input for clean ``sources``: what real images add, drawn at random.

    Each anatomical source gets, with ``probability``, Gaussian noise of standard deviation up to
    ``noise`` (in [0, 1] units); each functional source gets, with ``probability``, low-count
    (Poisson) noise at a count level drawn in ``counts`` for a value of 1.
    """
    out = sources.copy()
    for i, role in enumerate(roles):
        if rng.random() >= probability:
            continue
        if role:
            level = rng.uniform(*counts)
            out[i] = rng.poisson(np.clip(out[i], 0, 1) * level) / level
        else:
            out[i] = out[i] + rng.normal(0.0, rng.uniform(0.0, noise), out[i].shape)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
