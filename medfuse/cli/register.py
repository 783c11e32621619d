"""``medfuse register FIXED MOVING -o DIR``: elastix registration of MOVING onto FIXED."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def register(
    fixed: Path = typer.Argument(..., help="Fixed image: DICOM folder or NIfTI file."),
    moving: Path = typer.Argument(..., help="Moving image: DICOM folder or NIfTI file."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (created; never an input folder)."),
    preset: str = typer.Option(None, "--preset", help="rigid, rigid_mi, affine, bspline, rigid_affine_bspline or a plugin's (default: chosen by modality pair)."),
    params: list[Path] = typer.Option(None, "--params", help="Your own elastix parameter file; repeat for stages."),
    fixed_mask: Path = typer.Option(None, "--fixed-mask", help="Mask on the fixed grid."),
    moving_mask: Path = typer.Option(None, "--moving-mask", help="Mask on the moving grid."),
    landmarks: Path = typer.Option(None, "--landmarks", help="CSV or JSON of >= 3 point pairs (LPS mm)."),
    fixed_modality: str = typer.Option(None, "--fixed-modality", help="CT, MR, PT, NM ... (NIfTI has none)."),
    moving_modality: str = typer.Option(None, "--moving-modality", help="CT, MR, PT, NM ... (NIfTI has none)."),
    init: str = typer.Option(None, "--init", help="geometry, center, moments, landmarks or none."),
    seed: int = typer.Option(None, "--seed", help="elastix's random seed (default: its fixed seed; runs repeat exactly)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Register MOVING onto FIXED; write registered.nii.gz, transform.tfm,
    TransformParameters.*.txt and metrics.json into the output folder."""
    from medfuse.registration.files import register_files

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
    m = result.metrics
    console.print(
        f"[bold]{m.get('preset')}[/]: MI {m['mi_before']:.3f} -> {m['mi_after']:.3f} bits"
        + (f", TRE {m['tre_mm']:.2f} mm" if "tre_mm" in m else "")
        + (f", Dice {m['dice']:.3f}" if "dice" in m else "")
        + f", {m['duration_s']:.1f} s -> {out}"
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
