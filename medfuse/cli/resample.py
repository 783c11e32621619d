"""``medfuse resample MOVING --like FIXED -o OUT [--transform T.tfm]``: a series on another's grid."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app
from medfuse.cli._options import MODALITY_HELP, UNITS_HELP, out_option


@app.command()
def resample(
    moving: Path = typer.Argument(..., help="The series to resample: DICOM folder or NIfTI file.",
                                  metavar="MOVING", show_default=False),
    like: Path = typer.Option(..., "--like", metavar="FIXED", show_default=False,
                              help="The series whose grid MOVING is resampled onto."),
    out: Path = out_option("Output NIfTI file (.nii or .nii.gz); may sit beside the inputs."),
    transform: Path = typer.Option(None, "--transform", metavar="T.tfm",
                                   help="ITK transform (fixed -> moving points, the transform.tfm "
                                   "medfuse register writes); default: scanner geometry alone."),
    nearest: bool = typer.Option(False, "--nearest",
                                 help="Nearest-neighbour interpolation (label maps)."),
    modality: str = typer.Option(None, "--modality", metavar="CODE", help=MODALITY_HELP),
    units: str = typer.Option(None, "--units", metavar="UNITS", help=UNITS_HELP),
) -> None:
    """Resample MOVING onto FIXED's grid by scanner geometry, or through --transform."""
    from medfuse.errors import InputError
    from medfuse.io.paths import check_inputs_exist, check_output
    from medfuse.workflow import resample_series

    check_inputs_exist([moving, like, transform])
    if not out.name.endswith((".nii", ".nii.gz")):
        raise InputError("the output must be a NIfTI file (.nii or .nii.gz)", path=out)
    check_output(out, [moving, like, transform], folder=False)
    written = resample_series(moving, like, out, transform=transform, modality=modality,
                              units=units, interpolation="nearest" if nearest else "linear")
    typer.echo(f"{moving.name} on the grid of {like.name}"
               f"{' through ' + transform.name if transform else ' by scanner geometry'} -> {written}")
