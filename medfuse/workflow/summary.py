"""A short, readable summary of a study: what was registered or kept, its quality, the key ROI
numbers. ``medfuse report`` prints it; the app shows it after Export.

Examples
--------
>>> registration_line({"preset": "rigid", "mi_before": 0.31, "mi_after": 0.52, "duration_s": 2.04})
'rigid: MI 0.310 -> 0.520 bits, 2.0 s'
"""

from __future__ import annotations

from typing import Any

from medfuse.study import Study

__all__ = ["registration_line", "study_summary"]


def registration_line(metrics: dict[str, Any]) -> str:
    """``rigid: MI 0.31 -> 0.52 bits, TRE 1.20 mm, 12.3 s`` from a registration's metrics."""
    parts = [f"MI {metrics['mi_before']:.3f} -> {metrics['mi_after']:.3f} bits"
             if "mi_before" in metrics and "mi_after" in metrics else None,
             f"TRE {metrics['tre_mm']:.2f} mm" if "tre_mm" in metrics else None,
             f"Dice {metrics['dice']:.3f}" if "dice" in metrics else None,
             f"Jacobian {metrics['jacobian_min']:.2f} to {metrics['jacobian_max']:.2f}"
             if "jacobian_min" in metrics and "jacobian_max" in metrics else None,
             f"{metrics['duration_s']:.1f} s" if "duration_s" in metrics else None]
    return f"{metrics.get('preset') or 'registered'}: " + ", ".join(p for p in parts if p)


def _roi_line(entry: dict[str, Any]) -> str:
    numbers = [f"{entry['volume_ml']:.1f} ml"]
    if entry.get("suv_max") is not None:
        numbers += [f"SUVmax {entry['suv_max']:.2f}", f"SUVmean {entry['suv_mean']:.2f}",
                    f"SUVpeak {entry['suv_peak']:.2f}"]
    elif entry.get("hu_mean") is not None:
        numbers.append(f"HU {entry['hu_mean']:.1f} +- {entry['hu_sd']:.1f}")
    elif entry.get("mean") is not None:
        numbers.append(f"mean {entry['mean']:.4g} {entry['units']}")
    return f"ROI {entry['name']} on {entry['role']}: " + ", ".join(numbers)


def study_summary(study: Study) -> list[str]:
    """One line per registration, the fusion, and one per ROI statistic (the report has all)."""
    lines = []
    for role, volume, result in zip(study.roles, study.moving, study.registrations):
        what = "scanner alignment kept" if result is None else registration_line(result.metrics)
        lines.append(f"{role} ({volume.modality}): {what}")
        lines += [f"  warning: {w}" for w in (getattr(result, "warnings", None) or [])]
    if study.fused is not None:
        metrics = ", ".join(f"{k} {study.fusion_metrics[k]:.3g}" for k in ("EN", "MI", "Qabf")
                            if k in study.fusion_metrics)
        lines.append(f"fused {study.fixed_role} + {study.roles[study.fused_with]} "
                     f"({study.parameters.get('fusion_method', 'default')}): {metrics}")
    lines += [_roi_line(e) for e in study.rois if e["voxel_count"]]
    return lines
