"""The study model: one Qt-free object holding a study's inputs and everything computed from them.

:mod:`medfuse.workflow` fills it (load, register, fuse, quantify) and writes it out; reports,
exports, the app and the batch runner read it. It sits below :mod:`medfuse.report`, so a report
renders a :class:`Study` it is given and computes nothing itself.

Examples
--------
>>> import numpy as np
>>> from medfuse.volume import Volume
>>> ct = Volume(np.zeros((2, 3, 4), np.int16), modality="CT", units="HU")
>>> pet = Volume(np.ones((2, 3, 4), np.float32), modality="PT", units="SUVbw")
>>> study = Study(fixed=ct, moving=[pet])
>>> study.fixed_role, study.roles, study.series_names(), study.partner_index()
('ct', ['pt'], ['CT (fixed)', 'PT (moving 1)'], 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medfuse.volume import Volume

__all__ = ["Study", "default_roles"]


def default_roles(moving: list[Volume], fixed: Volume | None = None) -> list[str]:
    """Names of the moving series when the caller gives none: the modality code in lower case,
    numbered from the second of a kind (``pt``, ``mr``, ``mr_2``); a fixed series of the same
    modality takes the plain code, so ``fixed`` is given to keep the names apart."""
    taken = {fixed.modality.lower()} if fixed is not None else set()
    names = []
    for volume in moving:
        base, n = volume.modality.lower() or "series", 1
        name = base
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names.append(name)
    return names


@dataclass
class Study:
    """A study and what was computed from it.

    Attributes
    ----------
    fixed : the reference series; every other one is brought onto its grid.
    moving : the other series, on their own grids, in input order.
    roles : a name per moving series (pipeline input names, or :func:`default_roles`); they name
        the study's output files.
    fixed_role : the fixed series' name (by default its modality in lower case, e.g. ``"ct"``).
    masks : label maps in the fixed series' space (RTSTRUCT contours rasterised on its grid).
    registered : each moving series on the fixed grid (filled by registration).
    registrations : each moving series' ``RegistrationResult``, or None where scanner alignment
        was kept.
    fused : the fused volume (None until fused), ``fused_with`` the index of its moving partner.
    fusion_metrics : fusion quality numbers (docs/metrics.md).
    rois : ROI statistics of every series under every mask (filled by quantification).
    patient : the patient's identity as the inputs record it (name, id, birth_date, sex), read at
        load time; written out only where the user asks for it.
    parameters : how each step was run (registration mode, preset, fusion method...).
    timings : seconds per step.
    """

    fixed: Volume
    moving: list[Volume]
    roles: list[str] = field(default_factory=list)
    fixed_role: str = ""
    masks: list[Volume] = field(default_factory=list)
    registered: list[Volume] = field(default_factory=list)
    registrations: list[Any] = field(default_factory=list)
    fused: Volume | None = None
    fused_with: int | None = None
    fusion_metrics: dict[str, float] = field(default_factory=dict)
    rois: list[dict[str, Any]] = field(default_factory=list)
    patient: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.moving = list(self.moving)
        self.fixed_role = self.fixed_role or self.fixed.modality.lower() or "fixed"
        if not self.roles:
            self.roles = default_roles(self.moving, self.fixed)
        if len(self.roles) != len(self.moving):
            raise ValueError(f"{len(self.roles)} role names for {len(self.moving)} moving series")

    @property
    def is_registered(self) -> bool:
        """Whether every moving series has been brought onto the fixed grid."""
        return len(self.registered) == len(self.moving)

    def series_names(self) -> list[str]:
        """Display names of the fixed and moving series: ``"CT (fixed)"``, ``"PT (moving 1)"``."""
        return [f"{self.fixed.modality} (fixed)"] + [
            f"{m.modality} (moving {i + 1})" for i, m in enumerate(self.moving)]

    def mask_names(self) -> list[str]:
        """Display names of the masks: ``mask 1``, ... (never a file name: it may carry identity)."""
        return [f"mask {i + 1}" for i in range(len(self.masks))]

    def partner_index(self, role: str | None = None) -> int | None:
        """The moving series fused with (and overlaid on) the fixed one: the one named ``role``,
        else the first functional series (PET, SPECT), else the first; None without any.

        Raises
        ------
        ValueError
            ``role`` names no moving series.
        """
        from medfuse.modalities import get_modality

        if role is not None:
            if role not in self.roles:
                raise ValueError(f"no moving series named {role!r}; the study has "
                                 f"{', '.join(self.roles) or 'none'}")
            return self.roles.index(role)
        if not self.moving:
            return None
        functional = [i for i, m in enumerate(self.moving) if get_modality(m.modality).functional]
        return (functional or [0])[0]

    def partner(self) -> Volume | None:
        """The fusion partner on the fixed grid (the fused one's, else :meth:`partner_index`'s)."""
        index = self.fused_with if self.fused_with is not None else self.partner_index()
        if index is None or index >= len(self.registered):
            return None
        return self.registered[index]
