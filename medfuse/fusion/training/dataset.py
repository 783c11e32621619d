"""Training data: Harvard atlas 2D pairs split by case, and co-registered template volumes for 3D.

Reads the files directly (PIL, nibabel): the fusion engine does not depend on ``medfuse.io``.
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


@dataclass(frozen=True)
class Pair:
    """One registered pair of sources, normalised to [0, 1] float32, with its pair type and case."""

    id: str
    kind: str
    case: str
    a: np.ndarray
    b: np.ndarray


def case_of(stem: str) -> str:
    """The Harvard case id of a file stem: the stem minus its 3-digit slice number."""
    return stem[:-3]


def _read_luma(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)
    return (luma(array, rgb=array.ndim == 3) / 255.0).astype(np.float32)


def harvard_pairs(
    root: str | Path,
    *,
    val_cases: Mapping[str, Sequence[str]],
    split: str,
) -> list[Pair]:
    """Pairs of ``root/<PAIR>/<MOD>/<id>.png``; ``split`` is ``"train"`` or ``"val"`` (by case).

    The first modality folder (sorted, anatomical first: CT or MRI) is ``a``; a pseudo-colour image
    contributes its BT.601 luma.
    """
    root = Path(root)
    if not root.is_dir():
        raise FusionError("training data folder not found", path=root)
    pairs: list[Pair] = []
    for kind_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        mods = sorted((p for p in kind_dir.iterdir() if p.is_dir()),
                      key=lambda p: (p.name not in ("CT", "MRI"), p.name))
        if len(mods) != 2:
            raise FusionError(f"expected two modality folders, found {len(mods)}", path=kind_dir)
        held_out = set(val_cases.get(kind_dir.name, ()))
        for file in sorted(mods[0].glob("*.png")):
            other = mods[1] / file.name
            if not other.exists():
                continue
            case = case_of(file.stem)
            if (case in held_out) != (split == "val"):
                continue
            pairs.append(Pair(file.stem, kind_dir.name, case, _read_luma(file), _read_luma(other)))
    if not pairs:
        raise FusionError(f"no {split} pairs found", path=root)
    logger.info("%d %s pairs from %s", len(pairs), split, root)
    return pairs


def template_pairs(folder: str | Path, *, pairs: Sequence[Sequence[str]]) -> list[Pair]:
    """3D pairs of NIfTI templates in one world box (``[["T1.nii", "PET.nii"], ...]``).

    Each volume is reoriented to the closest canonical orientation (SPM's SPECT template stores x
    flipped) and normalised to [0, 1] between its 0.5th and 99.5th percentiles of non-zero voxels.
    """
    import nibabel as nib

    from medfuse.modalities.spec import percentile_normalizer

    folder = Path(folder)
    norm = percentile_normalizer(0.5, 99.5)
    out = []
    for names in pairs:
        images = []
        for name in names:
            path = folder / name
            if not path.exists():
                raise FusionError("training volume not found", path=path)
            images.append(nib.as_closest_canonical(nib.load(str(path))))
        if not np.allclose(images[0].affine, images[1].affine, atol=1e-3):
            raise FusionError(f"templates {names} are not on one grid", path=folder)
        arrays = [norm(np.nan_to_num(np.asarray(im.dataobj, dtype=np.float32)), "a.u.").astype(np.float32)
                  for im in images]
        out.append(Pair("+".join(names), "template", "+".join(names), arrays[0], arrays[1]))
    return out
