"""``medfuse fuse``: fuse one pair, or stream a CSV manifest of pairs with the model loaded once."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def fuse(
    a: Path = typer.Argument(None, help="First image (anatomical: CT or MR).", show_default=False),
    b: Path = typer.Argument(None, help="Second image, on the same grid.", show_default=False),
    output: Path = typer.Option(None, "-o", "--output",
                                help="Output file (one pair) or folder (--manifest)."),
    method: str = typer.Option("default", "--method", "-m", help="Fusion method (see --list)."),
    manifest: Path = typer.Option(None, "--manifest", help="CSV with columns id,a,b."),
    axis: int = typer.Option(0, "--axis", help="Array axis (0=z) along which 2D nets run on volumes."),
    list_methods: bool = typer.Option(False, "--list", help="List the fusion methods and exit."),
) -> None:
    """Fuse A and B into OUT, or every pair of a manifest into OUT/<id>.png|.nii.gz."""
    # gc.freeze() below, once torch and the model are loaded: the cyclic garbage collector then
    # no longer walks torch's hundreds of thousands of objects, neither during the run nor at exit
    # (the exit of a process that imported torch takes 0.6 s, 0.15 s after gc.freeze()).
    if list_methods:
        from medfuse.fusion import available_methods

        for name, (m, origin) in available_methods().items():
            typer.echo(f"{name:12s} {origin:16s} {m.description}")
        return
    if output is None:
        raise typer.BadParameter("-o/--output is required")
    from medfuse.fusion.files import fuse_files, fuse_manifest

    if manifest is None:
        if a is None or b is None:
            raise typer.BadParameter("give A and B, or --manifest PAIRS.csv")
        typer.echo(str(fuse_files(a, b, output, method=method, axis=axis)))
        gc.freeze()
        return
    started, count = time.perf_counter(), 0
    for _ in fuse_manifest(manifest, output, method=method, axis=axis):
        if count == 0:
            gc.freeze()
        count += 1
    typer.echo(f"{count} pairs fused into {output} in {time.perf_counter() - started:.1f} s")
