"""The report as one self-contained HTML file: inline CSS, figures as base64 PNG, no network request.

Examples
--------
>>> doc = {"title": "t", "created": "now", "schema_version": "1.0", "patient": None, "inputs": [],
...        "registration": [], "fusion": {"method": "x", "metrics": {}}, "rois": [],
...        "software": {}, "parameters": {}, "figures_through": {"kind": "centre",
...        "point_lps_mm": [0, 0, 0]}}
>>> page = render_html(doc, [])
>>> "<html" in page and "http" not in page.split("</style>")[0]
True
"""

from __future__ import annotations

import base64
import html
from typing import Any

from medfuse.report import _tables

_CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;color:#1d2733;margin:0;background:#f4f6f8}
main{max-width:1000px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-bottom:2px solid #2f6f9f;padding-bottom:3px;
margin-top:28px;color:#1f4e73}h3{font-size:14px;margin:18px 0 6px}
.meta{color:#5a6877;font-size:12px}.note{font-size:12px;color:#5a6877}
table{border-collapse:collapse;font-size:11.5px;margin:6px 0 10px;width:auto;min-width:40%}
th,td{border:1px solid #d3dae2;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#e8eef4;text-align:center}td:first-child,th:first-child{text-align:left}
td.text{text-align:left}tr:nth-child(even) td{background:#f8fafb}
.scroll{overflow-x:auto}figure{margin:10px 0 18px}figure img{max-width:100%;border:1px solid #d3dae2}
figcaption{font-size:12px;color:#3b4856;margin-top:3px}
.truth{font-weight:bold;color:#1e6b34}.warn{color:#a4262c;font-weight:bold}
.badge{display:inline-block;background:#e3f1e6;color:#1e6b34;border-radius:3px;padding:1px 6px;
font-size:12px}.badge.reg{background:#e3ecf7;color:#1f4e73}
"""


def _e(text: Any) -> str:
    return html.escape(str(text))


def _table(table: _tables.Table, *, text_columns: int | tuple[int, ...] = 1) -> str:
    """A table; ``text_columns`` (the first N, or these indices) are left-aligned text."""
    header, rows = table
    text = set(range(text_columns)) if isinstance(text_columns, int) else set(text_columns)
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="text">{_e(c)}</td>' if j in text else f"<td>{_e(c)}</td>"
            for j, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _figure(figure: dict[str, Any]) -> str:
    data = base64.b64encode(figure["png"]).decode("ascii")
    return (f'<figure><img alt="{_e(figure["caption"])}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(figure['caption'])}</figcaption></figure>")


def _figures(figures: list[dict[str, Any]], section: str, series: str | None = None) -> str:
    return "".join(_figure(f) for f in figures
                   if f["section"] == section and (series is None or f.get("series") == series))


def render_html(doc: dict[str, Any], figures: list[dict[str, Any]]) -> str:
    """The HTML page of a report document and its figures (``figures.study_figures``)."""
    parts = [f"<h1>{_e(doc['title'])}</h1>",
             f'<p class="meta">Created {_e(doc["created"])} · MedFuse '
             f'{_e(doc["software"].get("medfuse", ""))} · report schema '
             f'{_e(doc["schema_version"])}</p>']
    patient = doc.get("patient")
    if patient:
        parts.append('<p class="meta">Patient: ' + _e(", ".join(
            f"{k}: {v}" for k, v in patient.items() if v)) + "</p>")
    else:
        parts.append('<p class="meta">Patient identity withheld (inputs are identified by '
                     "content hashes).</p>")

    parts.append("<h2>Inputs and geometry</h2>")
    parts.append(_table(_tables.inputs_table(doc), text_columns=4))
    parts.append('<p class="note">Sizes and spacings in ITK order (x, y, z); LPS millimetres.</p>')

    parts.append("<h2>Registration quality</h2>")
    if not doc["registration"]:
        parts.append("<p>No moving series.</p>")
    for entry in doc["registration"]:
        kept = entry["method"] != "registration"
        badge = '<span class="badge">scanner alignment kept</span>' if kept else \
            '<span class="badge reg">registered</span>'
        parts.append(f"<h3>{_e(entry['series'])} {badge}</h3>")
        parts.append(f"<p>{_e(_tables.registration_summary(entry))}</p>")
        metrics = entry.get("metrics") or {}
        truth = _tables.truth_sentence(metrics)
        if truth:
            parts.append(f'<p class="truth">{_e(truth)}</p>')
        for warning in metrics.get("warnings") or []:
            parts.append(f'<p class="warn">Warning: {_e(warning)}</p>')
        quality = _tables.registration_quality_table(metrics)
        if quality:
            parts.append(_table(quality, text_columns=(0, 3)))
        elif not kept:
            parts.append('<p class="note">The registration reported no quality metrics.</p>')
        details = _tables.registration_details(metrics)
        if details:
            parts.append(f'<p class="note">{_e(details)}</p>')
        parts.append(_figures(figures, "registration", entry["series"]))

    fusion = doc["fusion"]
    parts.append("<h2>Fusion</h2>")
    parts.append(f"<p>Method: <b>{_e(_tables.fusion_method(fusion))}</b>. Figures go through the "
                 f"{_e(doc['figures_through']['kind'])} at LPS "
                 f"({_e(', '.join(f'{c:.1f}' for c in doc['figures_through']['point_lps_mm']))}) mm."
                 "</p>")
    if fusion.get("metrics"):
        parts.append("<h3>Fusion quality metrics</h3>")
        table = _tables.fusion_metrics_table(fusion["metrics"])
        parts.append(_table(table, text_columns=(0, 2)))
        parts.append(f'<p class="note">{_e(_tables.FUSION_LEGEND)}</p>')
    parts.append(_figures(figures, "fusion"))
    pet_figures = _figures(figures, "pet")
    if pet_figures:
        parts.append("<h2>PET</h2>" + pet_figures)

    parts.append("<h2>Regions of interest</h2>")
    general, pet = _tables.roi_tables(doc)
    if general[1]:
        parts.append(_table(general, text_columns=4))
        if pet:
            parts.append("<h3>PET (SUV, on the PET's own grid)</h3>")
            parts.append(_table(pet, text_columns=2))
            parts.append('<p class="note">SUVpeak: mean within 6.2 mm (1 cm³) of the hottest '
                         "voxel; search: the hottest such sphere centred in the ROI. MTV: ROI "
                         "voxels at ≥ 41 % of SUVmax, or SUV ≥ 2.5. TLG = SUVmean in MTV × MTV.</p>")
    else:
        parts.append("<p>No mask was given.</p>")

    parts.append("<h2>Provenance</h2>")
    parts.append(_table(_tables.parameters_table(doc)))
    parts.append(_table(_tables.software_table(doc)))
    hashes = (["Series", "sha256"], [[i["name"], i.get("sha256") or "-"] for i in doc["inputs"]])
    parts.append(_table(hashes, text_columns=2))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_e(doc['title'])}</title><style>{_CSS}</style></head>"
            f"<body><main>\n{body}\n</main></body></html>\n")
