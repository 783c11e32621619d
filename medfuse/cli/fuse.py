"""``medfuse fuse``: fuse two or more inputs, or stream a CSV manifest of pairs with the model loaded once."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def fuse(
    inputs: list[Path] = typer.Argument(
        None, help="Two or more images on one grid, in any order (roles come from the images).",
        show_default=False),
    output: Path = typer.Option(None, "-o", "--out",
                                help="Output file (inputs) or folder (--manifest)."),
    method: str = typer.Option("default", "--method", "-m", help="Fusion method (see --list)."),
    manifest: Path = typer.Option(None, "--manifest", help="CSV with columns id,a,b."),
    weight: float = typer.Option(
        None, "--weight", min=0.0, max=1.0,
        help="Learned methods: how much the functional image leads (0 anatomy .. 1 function; "
             "default: as trained, 0.5)."),
    axis: int = typer.Option(0, "--axis", help="Array axis (0=z) along which 2D nets run on volumes."),
    bundle: Path = typer.Option(None, "--bundle", help="Learned methods: another bundle folder."),
    trust_bundle_code: bool = typer.Option(
        False, "--trust-bundle-code",
        help="Let --bundle's configs run code ($ expressions, any _target_). Only for bundles you "
             "would run as a script: such a bundle can do anything you can."),
    list_methods: bool = typer.Option(False, "--list", help="List the fusion methods and exit."),
) -> None:
    """Fuse INPUTS into OUT, or every pair of a manifest into OUT/<id>.png|.nii.gz."""
    # gc.freeze() below, once the libraries and the model are loaded: the cyclic garbage collector
    # then no longer walks their objects, neither during the run nor at exit.
    if list_methods:
        from medfuse.fusion import available_methods

        for name, (m, origin) in available_methods().items():
            typer.echo(f"{name:12s} {origin:16s} {m.description}")
        return
    if output is None:
        raise typer.BadParameter("-o/--out is required")
    from medfuse.fusion.files import fuse_files, fuse_manifest

    params = {k: v for k, v in (("weight", weight), ("bundle", bundle)) if v is not None}
    if trust_bundle_code:
        params["trust_code"] = True
    if manifest is None:
        if not inputs or len(inputs) < 2:
            raise typer.BadParameter("give two or more inputs, or --manifest PAIRS.csv")
        typer.echo(str(fuse_files(inputs, output, method=method, axis=axis, **params)))
        gc.freeze()
        return
    started, count = time.perf_counter(), 0
    for _ in fuse_manifest(manifest, output, method=method, axis=axis, **params):
        if count == 0:
            gc.freeze()
        count += 1
    typer.echo(f"{count} pairs fused into {output} in {time.perf_counter() - started:.1f} s")
