"""``medfuse run PIPELINE.yaml --manifest STUDIES.csv -o DIR``: the batch runner on a cohort."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def run(
    pipeline: Path = typer.Argument(..., help="Pipeline file (see pipelines/*.yaml)."),
    manifest: Path = typer.Option(..., "--manifest", "-m",
                                  help="CSV: study_id and one column per pipeline input."),
    out: Path = typer.Option(..., "--out", "-o", help="Cohort folder: DIR/<study_id>/ per study."),
    scheduler: str = typer.Option(None, "--scheduler",
                                  help="Address of a running Dask scheduler (default: local)."),
    workers: int = typer.Option(None, "--workers", "-w", min=1,
                                help="Local cluster processes (default: one per CPU)."),
    timeout: float = typer.Option(None, "--timeout", min=0.001,
                                  help="Per-study time limit in seconds (default: the pipeline's)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run PIPELINE on every study of the manifest; rerun to skip done studies and retry failed ones.

    Exit status 0 when every study is done, 1 when some failed, 130 when interrupted.
    """
    import logging

    from rich.console import Console

    from medfuse._optional import require
    from medfuse.pipeline import run_batch

    require("distributed")  # it sets its log levels on import: quiet them after
    logging.getLogger("distributed").setLevel(logging.WARNING)

    console = Console(stderr=True)
    try:
        summary = run_batch(pipeline, manifest, out, scheduler=scheduler, workers=workers,
                            timeout_s=timeout, progress=not quiet)
    except KeyboardInterrupt:
        console.print(f"interrupted: finished studies are kept in {out}; run again to go on")
        raise typer.Exit(130) from None
    console.print(
        f"{len(summary.done)} done, {len(summary.failed)} failed, {len(summary.skipped)} already "
        f"done, in {summary.duration_s:.1f} s; cohort table: {summary.out_dir / 'cohort.csv'}"
    )
    for study_id in summary.failed:
        console.print(f"[red]failed[/red] {study_id}: see {summary.out_dir / study_id / 'status.json'}")
    raise typer.Exit(0 if summary.ok else 1)
