"""napari writers: an image or labels layer to NIfTI, with its world placement (LPS -> RAS on disk)."""

from __future__ import annotations

from typing import Any

_GEOMETRY = ("affine", "scale", "translate", "rotate", "shear", "metadata", "name")


def _write(path: str, data: Any, attributes: dict[str, Any], *, labels: bool) -> list[str]:
    from napari.layers import Image, Labels

    from medfuse.io import write_nifti
    from medfuse.napari._layers import layer_to_volume

    keep = {k: attributes[k] for k in _GEOMETRY if k in attributes}
    if not labels and attributes.get("rgb"):
        keep["rgb"] = True
    layer = (Labels if labels else Image)(data, **keep)
    if not path.lower().endswith((".nii", ".nii.gz")):
        path = f"{path}.nii.gz"
    return [str(write_nifti(layer_to_volume(layer), path))]


def write_image(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write one image layer (``data`` and napari's layer ``attributes``) as NIfTI; returns ``[path]``.

    The layer's affine, scale and translate give the voxel grid; ``metadata["modality"]`` and
    ``["units"]`` are kept in the file's description so that MedFuse reads them back.
    """
    return _write(path, data, attributes, labels=False)


def write_labels(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write one labels layer (a mask drawn on a series) as NIfTI on that series' grid."""
    return _write(path, data, attributes, labels=True)
