"""The window layouts of the app's views (no Qt here: the CLI checks ``--layout`` before napari
loads)."""

from __future__ import annotations

#: the (row, column) of each extra view; the main (axial) view is at (0, 0). ``2x2``: axial,
#: coronal, sagittal and the coronal PET MIP; ``1x3``: axial, coronal, sagittal; ``single``: axial
LAYOUTS: dict[str, dict[str, tuple[int, int]]] = {
    "2x2": {"coronal": (0, 1), "sagittal": (1, 0), "mip": (1, 1)},
    "1x3": {"coronal": (0, 1), "sagittal": (0, 2)},
    "single": {},
}
