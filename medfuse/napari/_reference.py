"""Which series is the fixed (reference) one: the rule the reader, the panels and the docs share."""

from __future__ import annotations

from collections.abc import Sequence

from medfuse.modalities import get_modality

#: the rule, as the Study panel states it
REFERENCE_RULE = ("fixed = the CT, else the anatomical series with the finest grid (the first opened "
                  "on a tie); moving = the functional series, else the next anatomical one")


def reference_index(modalities: Sequence[str], voxel_mm3: Sequence[float]) -> int | None:
    """Index of the fixed series among series of ``modalities`` with voxels of ``voxel_mm3``.

    Examples
    --------
    >>> reference_index(["MR", "MR"], [8.0, 1.0])  # a PD on 2 mm, a T1 on 1 mm: the T1
    1
    >>> reference_index(["PT", "MR", "CT"], [64.0, 1.0, 3.0])
    2
    >>> reference_index(["PT"], [64.0]) is None
    True
    """
    anatomy = [i for i, code in enumerate(modalities)
               if code != "SEG" and not get_modality(code).functional]
    if not anatomy:
        return None
    ct = [i for i in anatomy if modalities[i] == "CT"]
    if ct:
        return ct[0]
    finest = min(voxel_mm3[i] for i in anatomy)
    return next(i for i in anatomy if voxel_mm3[i] <= finest * 1.001)


def moving_index(modalities: Sequence[str], fixed: int | None) -> int | None:
    """Index of the moving series: the first functional one, else the first other anatomical one.

    Examples
    --------
    >>> moving_index(["MR", "MR"], 1), moving_index(["CT", "MR", "PT"], 0)
    (0, 2)
    """
    others = [i for i in range(len(modalities)) if i != fixed and modalities[i] != "SEG"]
    functional = [i for i in others if get_modality(modalities[i]).functional]
    return (functional or others or [None])[0]
