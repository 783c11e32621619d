"""``medfuse train PIPELINE.yaml``: train a fusion network into a MONAI bundle."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def train(
    pipeline: Path = typer.Argument(..., help="Training pipeline YAML (pipelines/train_fusion2d.yaml)."),
    out: Path = typer.Option(..., "-o", "--out",
                             help="Bundle folder to write."),
) -> None:
    """Train the fusion network PIPELINE describes (seeded, reproducible) into the bundle folder OUT."""
    from medfuse.fusion.training import load_pipeline, train_fusion

    logging.getLogger("medfuse").setLevel(logging.INFO)
    config = load_pipeline(pipeline)
    config["output"] = str(out.resolve())
    typer.echo(str(train_fusion(config)))
