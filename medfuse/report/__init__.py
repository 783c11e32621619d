"""Reports of a study: one JSON document (every number and its provenance) rendered as HTML and PDF.

``write_report(study, folder)`` writes ``report.json``, ``report.html`` and ``report.pdf`` of a
:class:`~medfuse.study.Study` it is given (quantified by ``medfuse.workflow``; nothing is computed
or read from disk here); :mod:`medfuse.report.exports` writes volumes, overlays and
transforms. Where each file goes is ``medfuse.workflow``'s study layout.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medfuse.study import Study

logger = logging.getLogger(__name__)

__all__ = ["write_report"]


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.name


def write_report(
    study: Study,
    folder: str | Path,
    *,
    include_patient_identity: bool = False,
    title: str = "MedFuse study report",
    formats: tuple[str, ...] = ("json", "html", "pdf"),
    exports: Mapping[str, Path] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the report of ``study`` into ``folder``: ``report.json``, ``.html``, ``.pdf``.

    Every file is written atomically. Returns ``{format: path}``.

    Parameters
    ----------
    study : a quantified :class:`~medfuse.study.Study`.
    folder : the output folder (created when missing).
    include_patient_identity : add patient name, ID, birth date and input paths (off by default).
    title : the report's title.
    formats : which of ``json``, ``html``, ``pdf`` to write.
    exports : what ``medfuse.workflow.export_study`` wrote (``{label: path}``), listed in
        the document's ``exports`` with paths relative to ``folder``.
    extra : more top-level sections of ``report.json`` (rendered nowhere else).
    """
    from medfuse.io._atomic import write_text
    from medfuse.report.document import build_document
    from medfuse.report.figures import study_figures

    folder = Path(folder)
    doc = build_document(study, include_patient_identity=include_patient_identity, title=title)
    if exports:
        doc["exports"] = {label: _relative(Path(path), folder) for label, path in exports.items()}
    doc.update(extra or {})
    out: dict[str, Path] = {}
    if "json" in formats:
        out["json"] = write_text(folder / "report.json",
                                 json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False))
    if {"html", "pdf"} & set(formats):
        figures = study_figures(study, doc["figures_through"]["point_lps_mm"])
        if "html" in formats:
            from medfuse.report.html import render_html

            out["html"] = write_text(folder / "report.html", render_html(doc, figures))
        if "pdf" in formats:
            from medfuse.report.pdf import render_pdf

            out["pdf"] = render_pdf(doc, figures, folder / "report.pdf")
    logger.info("report written to %s", folder)
    return out
