"""``medfuse info PATH``: the series found, with modality, units, geometry and SUV factor."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from medfuse.cli._app import app
from medfuse.cli._options import MODALITY_HELP, UNITS_HELP


@app.command()
def info(
    path: Path = typer.Argument(..., help="DICOM folder or file, NIfTI file, or 2D image.",
                                metavar="PATH", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one entry per series "
                                 "(with origin, direction, UIDs and source)."),
    modality: str = typer.Option(None, "--modality", metavar="CODE", help=MODALITY_HELP),
    units: str = typer.Option(None, "--units", metavar="UNITS", help=UNITS_HELP),
) -> None:
    """Describe the image series found at PATH (orientation: where the x, y, z axes point, in
    LPS letters; LPS for DICOM axial, RAS for a radiological NIfTI)."""
    from medfuse.io import describe, load_all

    entries = [describe(v) for v in load_all(path, modality=modality, units=units)]
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    rows = [(e["modality"], e["units"], "x".join(map(str, e["size"])),
             "x".join(f"{s:.3g}" for s in e["spacing"]), e["orientation"],
             "-" if e["suv_factor"] is None else f"{e['suv_factor']:.4g}", str(e["n_files"]),
             e["description"]) for e in entries]
    headers = ("mod", "units", "size", "spacing mm", "orient", "SUV", "files", "description")
    table = Table(title=str(path), title_justify="left", box=None, pad_edge=False)
    for k, header in enumerate(headers[:-1]):  # every column but the description keeps its width
        table.add_column(header, no_wrap=True,
                         min_width=max(len(header), *(len(r[k]) for r in rows)) if rows else None)
    table.add_column(headers[-1], overflow="ellipsis", no_wrap=True, ratio=1)
    for row in rows:
        table.add_row(*row)
    Console(width=min(Console().width, 100)).print(table)
