"""``medfuse info PATH``: the series found, with modality, units, geometry and SUV factor."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def info(
    path: Path = typer.Argument(..., help="DICOM folder or file, NIfTI file, or 2D image."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one entry per series."),
) -> None:
    """Describe the image series found at PATH."""
    from medfuse.io import describe, load_all

    entries = [describe(v) for v in load_all(path)]
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=str(path))
    for column in ("modality", "units", "size", "spacing", "origin", "suv_factor", "n_files",
                   "description"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            e["modality"], e["units"], "x".join(map(str, e["size"])),
            "x".join(f"{s:.3g}" for s in e["spacing"]),
            ", ".join(f"{o:.1f}" for o in e["origin"]),
            "-" if e["suv_factor"] is None else f"{e['suv_factor']:.6g}",
            str(e["n_files"]), e["description"],
        )
    Console().print(table)
