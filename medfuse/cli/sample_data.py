"""``medfuse sample-data -o DIR``: write the bundled sample study (phantom CT, MR, PET and truth)."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app
from medfuse.cli._options import out_option


@app.command("sample-data")
def sample_data(
    out: Path = out_option("Folder to create (must be empty)."),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Phantom seed; 0 reproduces the committed sample_data/study."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty output folder."),
) -> None:
    """Write the sample study: CT, MR and PET of a digital phantom as DICOM and NIfTI, with truth."""
    from medfuse.sample import write_study

    folder = write_study(out, seed=seed, overwrite=force)
    typer.echo(f"wrote the sample study into {folder} (see {folder / 'README.txt'})")
