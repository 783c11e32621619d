"""The report as a PDF (reportlab): the same sections, tables and figures as the HTML rendering."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from medfuse.io._atomic import atomic_path
from medfuse.report import _tables

_BLUE = "#1f4e73"


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontSize=17, alignment=0, spaceAfter=2),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=13, textColor=_BLUE,
                             spaceBefore=10, spaceAfter=4, keepWithNext=1),
        "h3": ParagraphStyle("h3", parent=base["Heading3"], fontSize=10.5, spaceBefore=6, keepWithNext=1,
                             spaceAfter=3),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontSize=9, leading=11.5),
        "note": ParagraphStyle("n", parent=base["BodyText"], fontSize=7.5, leading=9.5,
                               textColor="#5a6877"),
        "cell": ParagraphStyle("c", parent=base["BodyText"], fontSize=7, leading=8.5),
    }


def _escape(text: Any) -> str:
    from xml.sax.saxutils import escape

    return escape(str(text))


def _table(table: _tables.Table, width: float, styles: dict[str, Any]) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    from reportlab.pdfbase.pdfmetrics import stringWidth

    header, rows = table
    cell = styles["cell"]
    data = [[Paragraph(f"<b>{_escape(h)}</b>", cell) for h in header]]
    data += [[Paragraph(_escape(c), cell) for c in row] for row in rows]
    natural = [max([stringWidth(str(h), "Helvetica-Bold", cell.fontSize)]
                   + [stringWidth(str(r[j]), cell.fontName, cell.fontSize) for r in rows]) + 12
               for j, h in enumerate(header)]
    scale = min(1.0, width / sum(natural))
    widths = [n * scale for n in natural]
    out = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    out.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c9d2dc")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f8fa")]),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return out


def _image(figure: dict[str, Any], width: float, max_height: float, styles: dict[str, Any]) -> list:
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image, KeepTogether, Paragraph

    from medfuse.report.figures import DPI

    w, h = ImageReader(io.BytesIO(figure["png"])).getSize()
    scale = min(width / w, max_height / h, 72.0 / DPI)  # never beyond the figure's own size
    image = Image(io.BytesIO(figure["png"]), width=w * scale, height=h * scale, hAlign="LEFT")
    return [KeepTogether([image, Paragraph(_escape(figure["caption"]), styles["note"])])]


def render_pdf(doc: dict[str, Any], figures: list[dict[str, Any]], path: str | Path) -> Path:
    """Write the PDF rendering of a report document and its figures to ``path``, atomically."""
    from medfuse._optional import require

    require("reportlab")
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = _styles()
    width = A4[0] - 30 * mm
    max_height = A4[1] - 60 * mm
    story: list[Any] = [
        Paragraph(_escape(doc["title"]), styles["title"]),
        Paragraph(_escape(f"Created {doc['created']} · MedFuse {doc['software'].get('medfuse', '')}"
                          f" · report schema {doc['schema_version']}"), styles["note"]),
    ]
    patient = doc.get("patient")
    story.append(Paragraph(_escape(
        "Patient: " + ", ".join(f"{k}: {v}" for k, v in patient.items() if v) if patient else
        "Patient identity withheld (inputs are identified by content hashes)."), styles["note"]))

    def figures_of(section: str, series: str | None = None) -> list:
        out: list = []
        for f in figures:
            if f["section"] == section and (series is None or f.get("series") == series):
                out += _image(f, width, max_height, styles) + [Spacer(1, 4)]
        return out

    story += [Paragraph("Inputs and geometry", styles["h2"]),
              _table(_tables.inputs_table(doc), width, styles),
              Paragraph("Sizes and spacings in ITK order (x, y, z); LPS millimetres.",
                        styles["note"])]
    story.append(Paragraph("Registration quality", styles["h2"]))
    for entry in doc["registration"]:
        story.append(Paragraph(_escape(entry["series"]), styles["h3"]))
        story.append(Paragraph(_escape(_tables.registration_summary(entry)), styles["body"]))
        metrics = entry.get("metrics") or {}
        truth = _tables.truth_sentence(metrics)
        if truth:
            story.append(Paragraph(f"<b>{_escape(truth)}</b>", styles["body"]))
        for warning in metrics.get("warnings") or []:
            story.append(Paragraph(f'<font color="#a4262c"><b>Warning: {_escape(warning)}</b></font>',
                                   styles["body"]))
        quality = _tables.registration_quality_table(metrics)
        if quality:
            story.append(_table(quality, width, styles))
        details = _tables.registration_details(metrics)
        if details:
            story.append(Paragraph(_escape(details), styles["note"]))
        story += figures_of("registration", entry["series"])
    fusion = doc["fusion"]
    point = ", ".join(f"{c:.1f}" for c in doc["figures_through"]["point_lps_mm"])
    story += [Paragraph("Fusion", styles["h2"]), Paragraph(_escape(
        f"Method: {_tables.fusion_method(fusion)}. Figures go through the "
        f"{doc['figures_through']['kind']} at LPS ({point}) mm."), styles["body"])]
    if fusion.get("metrics"):
        story += [Paragraph("Fusion quality metrics", styles["h3"]),
                  _table(_tables.fusion_metrics_table(fusion["metrics"]), width, styles),
                  Paragraph(_escape(_tables.FUSION_LEGEND), styles["note"])]
    story += figures_of("fusion") + figures_of("pet")
    story.append(Paragraph("Regions of interest", styles["h2"]))
    general, pet = _tables.roi_tables(doc)
    if general[1]:
        story.append(_table(general, width, styles))
        if pet:
            story += [Paragraph("PET (SUV, on the PET's own grid)", styles["h3"]),
                      _table(pet, width, styles),
                      Paragraph("SUVpeak: mean within 6.2 mm (1 cm³) of the hottest voxel; search: "
                                "the hottest such sphere centred in the ROI. MTV: ROI voxels at ≥ 41 % "
                                "of SUVmax, or SUV ≥ 2.5. TLG = SUVmean in MTV × MTV.",
                                styles["note"])]
    else:
        story.append(Paragraph("No mask was given.", styles["body"]))
    story += [Paragraph("Provenance", styles["h2"]),
              _table(_tables.parameters_table(doc), width, styles),
              Spacer(1, 4), _table(_tables.software_table(doc), width, styles),
              Spacer(1, 4),
              _table((["Series", "sha256"], [[i["name"], i.get("sha256") or "-"]
                                             for i in doc["inputs"]]), width, styles)]

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor("#5a6877")
        canvas.drawString(15 * mm, 8 * mm, f"{doc['title']} · page {document.page}")
        canvas.restoreState()

    path = Path(path)
    with atomic_path(path) as tmp:
        SimpleDocTemplate(str(tmp), pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                          topMargin=15 * mm, bottomMargin=15 * mm, title=doc["title"],
                          author="MedFuse").build(story, onFirstPage=footer, onLaterPages=footer)
    return path
