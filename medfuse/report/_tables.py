"""The report's tables as plain strings, shared by the HTML and PDF renderings (one source of layout).

Examples
--------
>>> fmt(3.14159), fmt(None), fmt(1234567.0), fmt(0.000123)
('3.14', '-', '1.23e+06', '0.000123')
"""

from __future__ import annotations

from typing import Any

Table = tuple[list[str], list[list[str]]]

#: (key, header) of the ROI table for every series, and of the PET table
ROI_COLUMNS = (("mask", "Mask"), ("name", "ROI"), ("series", "Series"), ("units", "Units"),
               ("voxel_count", "Voxels"), ("volume_ml", "Volume (ml)"), ("mean", "Mean"),
               ("sd", "SD"), ("min", "Min"), ("max", "Max"))
PET_COLUMNS = (("name", "ROI"), ("series", "Series"), ("suv_max", "SUVmax"), ("suv_mean", "SUVmean"),
               ("suv_peak", "SUVpeak"), ("suv_peak_search", "SUVpeak (search)"),
               ("mtv41_ml", "MTV 41% (ml)"), ("mtv25_ml", "MTV SUV≥2.5 (ml)"),
               ("tlg", "TLG 41%"), ("tlg25", "TLG SUV≥2.5"))


def fmt(value: Any) -> str:
    """A number with 3 significant digits (integers whole), ``-`` for missing, text as is."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        return (" × " if numeric else "; ").join(fmt(v) for v in value) or "none"

    return str(value)


def inputs_table(doc: dict[str, Any]) -> Table:
    """One row per input series: geometry, units and content hash."""
    header = ["Series", "Role", "Modality", "Units", "Size (x×y×z)", "Spacing (mm)", "Extent (mm)",
              "sha256"]
    rows = [[i["name"], i["role"], i["modality"], i["units"], fmt(i["size"]),
             " × ".join(f"{s:.3g}" for s in i["spacing"]), fmt(i["extent_mm"]),
             (i.get("sha256") or "")[:12] + f" ({i.get('of')})"] for i in doc["inputs"]]
    return header, rows


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metric dicts as ``a.b`` keys."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def metrics_table(metrics: dict[str, Any]) -> Table:
    """Two columns: metric and value (nested metrics flattened)."""
    return ["Metric", "Value"], [[k, fmt(v)] for k, v in flatten(metrics).items()]


def roi_tables(doc: dict[str, Any]) -> tuple[Table, Table | None]:
    """The ROI table of every series, and the PET table (None without a PET entry)."""
    rois = doc["rois"]
    general = ([h for _, h in ROI_COLUMNS], [[fmt(r.get(k)) for k, _ in ROI_COLUMNS] for r in rois])
    pet_rows = [r for r in rois if "suv_max" in r]
    pet = ([h for _, h in PET_COLUMNS], [[fmt(r.get(k)) for k, _ in PET_COLUMNS] for r in pet_rows])
    return general, (pet if pet_rows else None)


def registration_summary(entry: dict[str, Any]) -> str:
    """One sentence on how a moving series was brought onto the fixed one."""
    if entry["method"] != "registration":
        return (f"{entry['series']}: {entry['method']} (same scanner frame of reference; "
                "no registration was run).")
    preset = f" with preset {entry['preset']}" if entry.get("preset") else ""
    transform = f", transform {entry['transform']}" if entry.get("transform") else ""
    return f"{entry['series']}: registered{preset}{transform}."


def software_table(doc: dict[str, Any]) -> Table:
    """Package and version, for the provenance section."""
    return ["Package", "Version"], [[k, v or "not installed"] for k, v in doc["software"].items()]


def parameters_table(doc: dict[str, Any]) -> Table:
    """Workflow parameters and timings."""
    rows = [[k, fmt(v)] for k, v in flatten(doc["parameters"]).items()]
    rows += [[f"time: {k}", fmt(v)] for k, v in doc.get("timings_s", {}).items()]
    return ["Parameter", "Value"], rows
