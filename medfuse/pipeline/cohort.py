"""The cohort table: one row per study with its status and key numbers, as CSV and as an HTML page.

Rows are built from the studies' ``status.json`` files, so the table always matches what is on disk,
whichever run wrote each study.

Examples
--------
>>> rows = [{"study_id": "s1", "status": "done", "duration_s": 1.5, "summary": {"pet_suv_max": 7.2}},
...         {"study_id": "s2", "status": "failed", "reason": "load: bad file", "summary": {}}]
>>> columns, table = cohort_table(rows)
>>> columns[-1], table[1]["reason"]
('pet_suv_max', 'load: bad file')
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from pathlib import Path
from typing import Any

from medfuse.io._atomic import write_text
from medfuse.pipeline.study import read_status

BASE_COLUMNS = ("study_id", "status", "duration_s", "attempt", "peak_rss_mb", "reason")


def cohort_table(statuses: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Flatten status records into (columns, rows): the base columns, then every summary key."""
    keys: dict[str, None] = {}
    for status in statuses:
        keys.update(dict.fromkeys(status.get("summary") or {}))
    rows = [{**{c: status.get(c) for c in BASE_COLUMNS}, **(status.get("summary") or {})}
            for status in statuses]
    return [*BASE_COLUMNS, *keys], rows


def write_cohort(out_dir: Path, study_ids: list[str]) -> tuple[Path, Path]:
    """Write ``out_dir/cohort.csv`` and ``out_dir/cohort.html`` for ``study_ids``, in that order.

    A study without a status file (not run yet, or interrupted) has status ``pending``.
    """
    statuses = [read_status(out_dir / sid) or {"study_id": sid, "status": "pending"}
                for sid in study_ids]
    columns, rows = cohort_table(statuses)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: "" if row.get(c) is None else row[c] for c in columns} for row in rows)
    csv_path = write_text(out_dir / "cohort.csv", buffer.getvalue())
    html_path = write_text(out_dir / "cohort.html", _html(columns, rows))
    return csv_path, html_path


#: cohort column prefix of the fusion metrics that the fuse step records (``fusion_qabf``, ...)
FUSION_PREFIX = "fusion_"


def fusion_columns(columns: list[str]) -> dict[str, str]:
    """Fusion metric columns and what each measures (``fusion_method`` is not a metric).

    Examples
    --------
    >>> fusion_columns(["study_id", "fusion_method", "fusion_qabf"])
    {'fusion_qabf': 'edge information carried over from the inputs (0 to 1)'}
    """
    from medfuse.report.document import FUSION_METRICS

    meanings = {f"{FUSION_PREFIX}{k.lower()}": v for k, v in FUSION_METRICS.items()}
    return {c: meanings[c] for c in columns if c in meanings}


def _legend(columns: list[str]) -> str:
    """The fusion columns' meanings under the table (nothing without fusion metrics)."""
    fusion = fusion_columns(columns)
    if not fusion:
        return ""
    items = "".join(f"<li><b>{html.escape(c)}</b>: {html.escape(m)}</li>" for c, m in fusion.items())
    return (f'<h2>Fusion quality columns</h2><p>Higher is better for every one; computed on the '
            f'central axial slice, 0-255 scale (docs/metrics.md).</p><ul>{items}</ul>')


def _html(columns: list[str], rows: list[dict[str, Any]]) -> str:
    counts = Counter(row["status"] for row in rows)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    fusion = fusion_columns(columns)
    head = "".join(
        f'<th class="fusion" title="{html.escape(fusion[c])}">{html.escape(c)}</th>' if c in fusion
        else f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            text = "" if value is None else html.escape(str(value))
            if c == "study_id" and row["status"] != "pending":
                text = f'<a href="{html.escape(str(value))}/status.json">{text}</a>'
            cells.append(f"<td>{text}</td>")
        body.append(f'<tr class="{html.escape(row["status"])}">{"".join(cells)}</tr>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MedFuse cohort</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }}
tr.done td:nth-child(2) {{ color: #1a7f37; }}
tr.failed td:nth-child(2) {{ color: #cf222e; font-weight: bold; }}
tr.pending td:nth-child(2) {{ color: #9a6700; }}
th.fusion {{ background: #e3ecf7; }}
h2 {{ font-size: 1.1em; margin-top: 1.5em; }}
</style></head><body>
<h1>MedFuse cohort</h1>
<p>{len(rows)} studies: {html.escape(summary)}</p>
<table><thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
{_legend(columns)}
</body></html>
"""
