"""Report figures as PNG bytes (matplotlib, Agg backend, no display needed).

Planes are drawn in millimetres with the patient's proportions: axial with the patient's left on the
right of the image (radiological convention), coronal and sagittal with the head up. A grey series is
windowed as its modality prescribes (``ModalitySpec.normalize``); a functional series (PET, SPECT) is
drawn in its colour map over it.

Examples
--------
>>> import numpy as np
>>> from medfuse.volume import Volume
>>> ct = Volume(np.random.default_rng(0).normal(0, 50, (8, 16, 16)), modality="CT", units="HU")
>>> png = planes_figure([("CT", ct, None)], ct.center())
>>> png[:4] == b"\\x89PNG"
True
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from medfuse.study import Study
from medfuse.volume import Volume

#: DPI of every figure; widths are in inches so a figure fills an A4 text column at this DPI
DPI = 110
PLANES = ("axial", "coronal", "sagittal")


def _pyplot() -> Any:
    from medfuse._optional import require

    matplotlib = require("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    _pyplot().close(fig)
    return buffer.getvalue()


def normalized(volume: Volume) -> np.ndarray:
    """Values in [0, 1] as the volume's modality prescribes (fused/unknown: by their own range)."""
    from medfuse.modalities import get_modality

    spec = get_modality(volume.modality)
    array = np.asarray(volume.array)
    if volume.is_rgb:
        return array.astype(np.float32) / max(float(array.max()), 1.0)
    if spec.code == "OT":
        values = array.astype(np.float32)
        lo, hi = np.percentile(values, [0.5, 99.5]) if values.size else (0.0, 1.0)
        return np.clip((values - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    return spec.normalize(array, volume.units)


def plane(array: np.ndarray, volume: Volume, which: str, index: Sequence[int]) -> tuple[np.ndarray, list[float]]:
    """The 2D plane ``which`` through ``index`` (x, y, z) and its matplotlib extent in mm."""
    x, y, z = (int(i) for i in index)
    sx, sy, sz = volume.spacing
    nx, ny, nz = volume.size
    if which == "axial":
        return array[z], [0, nx * sx, ny * sy, 0]
    if which == "coronal":
        return array[::-1, y], [0, nx * sx, 0, nz * sz]
    return array[::-1, :, x], [0, ny * sy, 0, nz * sz]


def _index_of(volume: Volume, point: Sequence[float]) -> list[int]:
    idx = np.rint(volume.world_to_index([point])[0]).astype(int)
    return [int(np.clip(i, 0, n - 1)) for i, n in zip(idx, volume.size)]


def _overlay_cmap(name: str) -> Any:
    """``name`` with its lowest values transparent, for functional overlays."""
    plt = _pyplot()
    cmap = plt.get_cmap(name)(np.linspace(0, 1, 256))
    cmap[:, 3] = np.clip(np.linspace(0, 1, 256) * 4, 0, 0.85)
    from matplotlib.colors import ListedColormap

    return ListedColormap(cmap)


def planes_figure(
    rows: Sequence[tuple[str, Volume, Volume | None]],
    point: Sequence[float],
    *,
    width: float = 7.0,
) -> bytes:
    """Rows of axial, coronal and sagittal planes through the LPS ``point``.

    Each row is ``(title, base, overlay)``: ``base`` grey (or RGB), ``overlay`` an optional functional
    volume on the same grid drawn in its modality's colour map.
    """
    from medfuse.modalities import get_modality

    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), 3, figsize=(width, 2.5 * len(rows)), squeeze=False)
    for r, (title, base, overlay) in enumerate(rows):
        index = _index_of(base, point)
        base_n = normalized(base)
        over_n = normalized(overlay) if overlay is not None else None
        for c, which in enumerate(PLANES):
            ax = axes[r, c]
            image, extent = plane(base_n, base, which, index)
            ax.imshow(image, cmap=None if base.is_rgb else "gray", extent=extent, vmin=0, vmax=1,
                      interpolation="nearest")
            if over_n is not None:
                cmap = _overlay_cmap(get_modality(overlay.modality).colormap)
                ax.imshow(plane(over_n, overlay, which, index)[0], cmap=cmap, extent=extent,
                          vmin=0, vmax=1, interpolation="bilinear")
            ax.set_title(f"{title}: {which}" if c == 0 else which, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return _png(fig)


def mip_figure(volume: Volume, *, title: str = "PET MIP", width: float = 4.5) -> bytes:
    """Maximum intensity projections, coronal and sagittal, inverted grey as nuclear medicine shows."""
    plt = _pyplot()
    values = normalized(volume)
    sx, sy, sz = volume.spacing
    nx, ny, nz = volume.size
    fig, axes = plt.subplots(1, 2, figsize=(width, 2.6))
    views = ((values.max(axis=1)[::-1], [0, nx * sx, 0, nz * sz], "coronal"),
             (values.max(axis=2)[::-1], [0, ny * sy, 0, nz * sz], "sagittal"))
    for ax, (image, extent, name) in zip(axes, views):
        ax.imshow(image, cmap="gray_r", extent=extent, vmin=0, vmax=1, interpolation="bilinear")
        ax.set_title(f"{title}: {name}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return _png(fig)


def _edges(image: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Strong edges of a [0, 1] image inside ``support`` (where the series has data, the border of
    its field of view left out): Sobel magnitude above its 90th percentile of non-zero values."""
    from scipy import ndimage

    magnitude = np.hypot(ndimage.sobel(image, axis=0), ndimage.sobel(image, axis=1))
    magnitude[~ndimage.binary_erosion(support, iterations=2)] = 0
    nonzero = magnitude[magnitude > 0]
    if nonzero.size == 0:
        return np.zeros(image.shape, dtype=bool)
    return magnitude > np.percentile(nonzero, 90)


def alignment_figure(
    fixed: Volume,
    states: Sequence[tuple[str, Volume]],
    point: Sequence[float],
    *,
    squares: int = 8,
    width: float = 7.0,
) -> bytes:
    """Checkerboard and edge overlays of ``fixed`` with each moving state (on the fixed grid).

    ``states`` is e.g. ``[("before", by_geometry), ("after", registered)]``: one row each, with an
    axial and a coronal checkerboard and the moving image's edges (red) drawn over the fixed image.
    """
    from medfuse.quantify.compare import checkerboard

    plt = _pyplot()
    index = _index_of(fixed, point)
    fixed_n = normalized(fixed)
    fig, axes = plt.subplots(len(states), 4, figsize=(width, 2.0 * len(states)), squeeze=False)
    for r, (label, moving) in enumerate(states):
        moving_n = normalized(moving)
        for c, which in enumerate(("axial", "coronal")):
            a, extent = plane(fixed_n, fixed, which, index)
            b, _ = plane(moving_n, fixed, which, index)
            axes[r, c].imshow(checkerboard(a, b, squares=squares), cmap="gray", extent=extent,
                              vmin=0, vmax=1, interpolation="nearest")
            if r == 0:
                axes[r, c].set_title(f"checkerboard, {which}", fontsize=8)
                axes[r, c + 2].set_title(f"edges, {which}", fontsize=8)
            edges = np.zeros(b.shape + (4,), np.float32)
            edges[_edges(b, plane(np.asarray(moving.array) != 0, fixed, which, index)[0])] = \
                (1.0, 0.1, 0.1, 1.0)
            axes[r, c + 2].imshow(a, cmap="gray", extent=extent, vmin=0, vmax=1)
            axes[r, c + 2].imshow(edges, extent=extent, interpolation="nearest")
        axes[r, 0].set_ylabel(label, fontsize=9)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return _png(fig)


def joint_histogram_figure(
    fixed: Volume,
    states: Sequence[tuple[str, Volume]],
    *,
    bins: int = 64,
    width_each: float = 3.0,
) -> bytes:
    """Log joint histograms of the fixed and each moving state over their overlap (both non-zero)."""
    plt = _pyplot()
    fixed_n = normalized(fixed).ravel()
    fig, axes = plt.subplots(1, len(states), figsize=(width_each * len(states), 2.8), squeeze=False)
    for ax, (label, moving) in zip(axes[0], states):
        moving_n = normalized(moving).ravel()
        overlap = np.asarray(moving.array).ravel() != 0
        hist, _, _ = np.histogram2d(fixed_n[overlap], moving_n[overlap], bins=bins,
                                    range=[[0, 1], [0, 1]])
        ax.imshow(np.log1p(hist.T), origin="lower", extent=[0, 1, 0, 1], cmap="magma",
                  aspect="auto")
        ax.set_title(label, fontsize=8)
        ax.set_xlabel(f"{fixed.modality} (normalised)", fontsize=7)
        ax.set_ylabel(f"{moving.modality} (normalised)", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return _png(fig)


def study_figures(study: Study, point: Sequence[float]) -> list[dict[str, Any]]:
    """Every figure of a study report: ``[{"id", "section", "caption", "png"}]``.

    Registration figures compare the fixed series with each moving series by scanner geometry alone
    ("before") and registered ("after"); where scanner alignment was kept there is one state.
    """
    figures: list[dict[str, Any]] = []
    names = study.series_names()[1:]
    for i, (moving, registered, reg) in enumerate(
        zip(study.moving, study.registered, study.registrations)
    ):
        if moving.is_rgb or study.fixed.is_rgb:
            continue
        if reg is None:
            states = [("scanner alignment", registered)]
        else:
            states = [("before", moving.resample_to(study.fixed)), ("after", registered)]
        figures.append({
            "id": f"alignment_{i + 1}", "section": "registration", "series": names[i],
            "caption": f"{names[i]} on {study.fixed.modality}: checkerboards and the moving "
                       "image's edges (red) over the fixed image",
            "png": alignment_figure(study.fixed, states, point),
        })
        figures.append({
            "id": f"joint_histogram_{i + 1}", "section": "registration", "series": names[i],
            "caption": f"Joint histograms of {study.fixed.modality} and {names[i]} over their "
                       "overlap (log counts): a sharper pattern means a better alignment",
            "png": joint_histogram_figure(study.fixed, states),
        })
    partner = study.partner()
    rows: list[tuple[str, Volume, Volume | None]] = []
    if partner is not None and not study.fixed.is_rgb:
        rows.append((f"{study.fixed.modality} + {partner.modality}", study.fixed, partner))
    if study.fused is not None:
        rows.append((f"fused ({study.parameters.get('fusion_method', 'default')})",
                     study.fused, None))
    if rows:
        figures.append({
            "id": "fused_planes", "section": "fusion",
            "caption": "Fused overlays in three planes through the marked point (axial: patient's "
                       "left on the right; coronal and sagittal: head up)",
            "png": planes_figure(rows, point),
        })
    pets = [(n, m) for n, m in zip(names, study.moving) if m.modality == "PT" and m.ndim == 3]
    if study.fixed.modality == "PT":
        pets.insert(0, (f"{study.fixed.modality} (fixed)", study.fixed))
    for name, pet in pets[:1]:
        figures.append({
            "id": "pet_mip", "section": "pet", "series": name,
            "caption": f"Maximum intensity projections of {name} on its own grid ({pet.units})",
            "png": mip_figure(pet, title=name),
        })
    return figures
