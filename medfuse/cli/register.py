"""``medfuse register FIXED MOVING -o DIR``: elastix registration of MOVING onto FIXED."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app
from medfuse.cli._options import out_option


@app.command()
def register(
    fixed: Path = typer.Argument(..., help="Fixed image: DICOM folder or NIfTI file.",
                                 metavar="FIXED", show_default=False),
    moving: Path = typer.Argument(..., help="Moving image: DICOM folder or NIfTI file.",
                                  metavar="MOVING", show_default=False),
    out: Path = out_option("Output folder (may sit beside the inputs; written whole or not at "
                           "all)."),
    preset: str = typer.Option(None, "--preset", metavar="NAME", help="rigid, rigid_mi, affine, bspline, rigid_affine_bspline or a plugin's (default: chosen by modality pair)."),
    params: list[Path] = typer.Option(None, "--params", metavar="FILE", help="Your own elastix parameter file; repeat for stages."),
    fixed_mask: Path = typer.Option(None, "--fixed-mask", metavar="PATH", help="Label map or RTSTRUCT in the fixed space."),
    moving_mask: Path = typer.Option(None, "--moving-mask", metavar="PATH", help="Label map or RTSTRUCT in the moving space."),
    landmarks: Path = typer.Option(None, "--landmarks", metavar="FILE", help="CSV or JSON of >= 3 point pairs (LPS mm)."),
    fixed_modality: str = typer.Option(None, "--fixed-modality", metavar="CODE", help="CT, MR, PT, NM ... (NIfTI has none)."),
    moving_modality: str = typer.Option(None, "--moving-modality", metavar="CODE", help="CT, MR, PT, NM ... (NIfTI has none)."),
    init: str = typer.Option(None, "--init", metavar="HOW", help="geometry, center, moments, landmarks or none."),
    seed: int = typer.Option(None, "--seed", metavar="N", help="elastix's random seed (default: its fixed seed; runs repeat exactly)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Register MOVING onto FIXED; write registered.nii.gz, transform.tfm,
    TransformParameters.*.txt and metrics.json into the output folder."""
    from medfuse.registration.files import register_files
    from medfuse.workflow.summary import registration_line

    if quiet:
        result = register_files(
            fixed, moving, out, preset=preset, params=params or None, fixed_mask=fixed_mask,
            moving_mask=moving_mask, landmarks=landmarks, fixed_modality=fixed_modality,
            moving_modality=moving_modality, init=init, seed=seed,
        )
        return
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("loading", total=None)

        def progress(step: int, total: int, message: str) -> None:
            bar.update(task, total=total, completed=step, description=message)

        result = register_files(
            fixed, moving, out, preset=preset, params=params or None, fixed_mask=fixed_mask,
            moving_mask=moving_mask, landmarks=landmarks, fixed_modality=fixed_modality,
            moving_modality=moving_modality, init=init, seed=seed, progress=progress,
        )
    console.print(f"{moving.name} onto {fixed.name}: {registration_line(result.metrics)} -> {out}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
