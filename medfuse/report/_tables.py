"""The report's tables as plain strings, shared by the HTML and PDF renderings (one source of layout).

Examples
--------
>>> fmt(3.14159), fmt(None), fmt(1234567.0), fmt(0.000123)
('3.14', '-', '1.23e+06', '0.000123')
"""

from __future__ import annotations

from typing import Any

from medfuse.report.document import FUSION_LEGEND, FUSION_METRICS

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


def fusion_metrics_table(metrics: dict[str, Any]) -> Table:
    """Metric, value and what it measures, in the order of :data:`FUSION_METRICS` (others after)."""
    keys = [k for k in FUSION_METRICS if k in metrics] + [k for k in metrics
                                                          if k not in FUSION_METRICS]
    return (["Metric", "Value", "What it measures (higher is better)"],
            [[k, fmt(metrics[k]), FUSION_METRICS.get(k, "")] for k in keys])


#: registration quality rows: (label, key before, key after, how to read it)
_QUALITY_ROWS = (
    ("Mutual information (bits)", "mi_before", "mi_after", "higher after: better aligned"),
    ("Normalised mutual information", "nmi_before", "nmi_after", "higher after: better aligned"),
    ("TRE against the known truth (mm, mean)", "tre_truth_before_mean_mm", "tre_truth_mean_mm",
     "distance to the true position: lower is better"),
    ("TRE against the known truth (mm, max)", None, "tre_truth_max_mm", "lower is better"),
    ("TRE at landmarks (mm, mean)", "tre_before_mm", "tre_mm", "lower is better"),
    ("Dice of the masks", None, "dice", "overlap: 1 is perfect"),
    ("Jacobian determinant, min", None, "jacobian_min", "<= 0: the deformation folds"),
    ("Jacobian determinant, max", None, "jacobian_max", "local volume change"),
    ("Folded fraction of the grid", None, "folding_fraction", "must be 0"),
)
#: registration metrics shown as details (after the quality table)
_DETAIL_KEYS = ("preset", "elastix_version", "duration_s")


def registration_quality_table(metrics: dict[str, Any]) -> Table | None:
    """Quality before and after registration (mutual information, TRE, Dice, Jacobian), only the
    rows whose numbers the registration reported; None when it reported none."""
    rows = [[label, fmt(metrics.get(before)) if before else "", fmt(metrics[after]), reading]
            for label, before, after, reading in _QUALITY_ROWS if metrics.get(after) is not None]
    return (["Quality", "Before", "After", "How to read it"], rows) if rows else None


def registration_details(metrics: dict[str, Any]) -> str:
    """One line of the remaining numbers: preset, elastix version, duration, and any others."""
    shown = {k for _, b, a, _ in _QUALITY_ROWS for k in (b, a) if k} | {"warnings"}
    rest = flatten({k: v for k, v in metrics.items() if k not in shown})
    ordered = [k for k in _DETAIL_KEYS if k in rest] + [k for k in rest if k not in _DETAIL_KEYS]
    return "; ".join(f"{k}: {fmt(rest[k])}" for k in ordered)


def truth_sentence(metrics: dict[str, Any]) -> str | None:
    """``Target registration error against the known truth: 0.31 mm (mean).``, or None."""
    tre = metrics.get("tre_truth_mean_mm")
    if tre is None:
        return None
    before = metrics.get("tre_truth_before_mean_mm")
    was = f", {fmt(before)} mm before registration" if before is not None else ""
    return f"Target registration error against the known truth: {fmt(tre)} mm (mean{was})."


def roi_tables(doc: dict[str, Any]) -> tuple[Table, Table | None]:
    """The ROI table of every series, and the PET table (None without a PET entry)."""
    rois = doc["rois"]
    general = ([h for _, h in ROI_COLUMNS], [[fmt(r.get(k)) for k, _ in ROI_COLUMNS] for r in rois])
    pet_rows = [r for r in rois if "suv_max" in r]
    pet = ([h for _, h in PET_COLUMNS], [[fmt(r.get(k)) for k, _ in PET_COLUMNS] for r in pet_rows])
    return general, (pet if pet_rows else None)


def fusion_method(fusion: dict[str, Any]) -> str:
    """The fusion method as asked, with the method it resolved to: ``default (learned2d)``."""
    asked, used = fusion.get("method") or "-", fusion.get("method_resolved")
    return f"{asked} ({used})" if used and used != asked else asked


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
