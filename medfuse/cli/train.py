"""``medfuse train PIPELINE.yaml``: train a fusion network into a MONAI bundle."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def train(
    pipeline: Path = typer.Argument(..., help="Training pipeline YAML (pipelines/train_fusion2d.yaml)."),
    output: Path = typer.Option(None, "-o", "--output",
                                help="Bundle folder (default: the pipeline's `output`)."),
) -> None:
    """Train the fusion network PIPELINE describes (seeded, reproducible) and write its bundle."""
    from medfuse.fusion.training import load_pipeline, train_fusion

    logging.getLogger("medfuse").setLevel(logging.INFO)
    config = load_pipeline(pipeline)
    if output is not None:
        config["output"] = str(output.resolve())
    typer.echo(str(train_fusion(config)))
