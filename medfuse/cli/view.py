"""``medfuse view [PATHS...] [--screenshot FILE] [--at X,Y,Z] [--layout 2x2|1x3|single]``."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app


def parse_point(text: str) -> tuple[float, float, float]:
    """``"X,Y,Z"`` (LPS mm) as three floats.

    Examples
    --------
    >>> parse_point("12.5, -40, 7")
    (12.5, -40.0, 7.0)
    """
    from medfuse.errors import InputError

    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3:
        raise InputError(f"--at must be three numbers X,Y,Z in LPS millimetres, not {text!r}")
    return values  # type: ignore[return-value]


@app.command()
def view(
    paths: list[Path] = typer.Argument(None, help="Study folders, DICOM folders, NIfTI or 2D images."),
    screenshot: Path = typer.Option(None, "--screenshot",
                                    help="Render the window to this PNG once every view has "
                                         "drawn, and exit."),
    at: str = typer.Option(None, "--at", help="Centre every view on this LPS point: X,Y,Z in mm."),
    layout: str = typer.Option("2x2", "--layout",
                               help="2x2 (axial, coronal, sagittal, PET MIP), 1x3 (axial, coronal, "
                                    "sagittal) or single (axial)."),
    fov: float = typer.Option(None, "--fov", help="With --at: millimetres shown across each view "
                                                  "(default: the largest series)."),
    width: int = typer.Option(1600, help="Window width in pixels."),
    height: int = typer.Option(1000, help="Window height in pixels."),
) -> None:
    """Open the MedFuse app (napari) on PATHS; a study folder opens with all its series."""
    from medfuse.errors import InputError
    from medfuse.napari._layouts import LAYOUTS

    for path in paths or []:
        if not path.exists():
            raise InputError("no such file or folder", path=path)
    if layout not in LAYOUTS:
        raise InputError(f"--layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    point = parse_point(at) if at is not None else None
    from medfuse._optional import require

    require("napari")
    from medfuse.napari._app import launch, screenshot_window

    viewer, panels = launch(paths or [], size=(width, height), layout=layout, at=point, fov_mm=fov)
    if screenshot is None:
        import napari

        napari.run()
        return
    try:
        out = screenshot_window(viewer, panels, screenshot)
        status = panels["Study"].runner.status.text()
    finally:
        panels["Orthogonal views"].detach()
        viewer.close()
    if "failed" in status:
        raise InputError(status)
    if "not shown:" in status:  # some series opened, others could not be drawn
        typer.echo(status, err=True)
    typer.echo(str(out))
