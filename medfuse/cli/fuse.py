"""``medfuse fuse``: fuse one pair, or stream a CSV manifest of pairs with the model loaded once."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from medfuse.cli._app import app
from medfuse.errors import InputError, PipelineError

if TYPE_CHECKING:  # pragma: no cover
    from medfuse.volume import Volume

logger = logging.getLogger(__name__)


def _read_manifest(path: Path) -> list[tuple[str, Path, Path]]:
    """Rows ``(id, a, b)`` of a manifest CSV; relative paths are relative to the CSV's folder."""
    if not path.is_file():
        raise InputError("no such manifest file", path=path)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"id", "a", "b"} <= set(reader.fieldnames):
            raise PipelineError(f"manifest needs the columns id,a,b, found {reader.fieldnames}",
                                path=path)
        rows = [(r["id"].strip(), Path(r["a"].strip()), Path(r["b"].strip())) for r in reader]
    seen: set[str] = set()
    out = []
    for n, (pair_id, a, b) in enumerate(rows, start=2):
        if not pair_id or "/" in pair_id or "\\" in pair_id or pair_id.startswith("."):
            raise PipelineError(f"line {n}: invalid id {pair_id!r} (a plain file name is needed)",
                                path=path)
        if pair_id in seen:
            raise PipelineError(f"line {n}: duplicate id {pair_id!r}", path=path)
        seen.add(pair_id)
        a, b = (p if p.is_absolute() else path.parent / p for p in (a, b))
        for p in (a, b):
            if not p.exists():
                raise InputError(f"line {n} (id {pair_id!r}): no such file", path=p)
        out.append((pair_id, a, b))
    return out


def _write(fused: Volume, out: Path) -> Path:
    from medfuse.io import write_nifti, write_png

    if fused.ndim == 2 and not out.name.lower().endswith((".nii", ".nii.gz")):
        return write_png(fused, out)
    return write_nifti(fused, out)


def _fuse_files(a: Path, b: Path, out: Path, method: str, axis: int) -> Path:
    from medfuse.fusion import fuse
    from medfuse.io import load

    volumes = [load(a), load(b)]
    params = {"axis": axis} if volumes[0].ndim == 3 and method in ("default", "learned2d") else {}
    return _write(fuse(volumes, method=method, **params), out)


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
    from medfuse.fusion import available_methods, get_method

    if list_methods:
        for name, (m, origin) in available_methods().items():
            typer.echo(f"{name:12s} {origin:10s} {m.description}")
        return
    if output is None:
        raise typer.BadParameter("-o/--output is required")
    get_method(method)  # unknown names fail before any work
    if manifest is None:
        if a is None or b is None:
            raise typer.BadParameter("give A and B, or --manifest PAIRS.csv")
        typer.echo(str(_fuse_files(a, b, output, method, axis)))
        return
    rows = _read_manifest(manifest)
    started = time.perf_counter()
    for pair_id, pa, pb in rows:
        suffix = ".png" if pa.suffix.lower() in (".png", ".tif", ".tiff", ".jpg", ".jpeg",
                                                 ".bmp") else ".nii.gz"
        try:
            _fuse_files(pa, pb, output / f"{pair_id}{suffix}", method, axis)
        except Exception as err:
            from medfuse.errors import MedFuseError

            if isinstance(err, MedFuseError):
                raise type(err)(f"pair {pair_id!r}: {err}") from err
            raise
    seconds = time.perf_counter() - started
    typer.echo(f"{len(rows)} pairs fused into {output} in {seconds:.1f} s")
