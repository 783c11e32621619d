"""``medfuse view [PATHS...] [--screenshot FILE]``: the napari app on those inputs."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def view(
    paths: list[Path] = typer.Argument(None, help="Study folders, DICOM folders, NIfTI or 2D images."),
    screenshot: Path = typer.Option(None, "--screenshot", help="Render the window to this PNG and exit."),
    width: int = typer.Option(1600, help="Window width in pixels."),
    height: int = typer.Option(1000, help="Window height in pixels."),
) -> None:
    """Open the MedFuse app (napari) on PATHS; a study folder opens with all its series."""
    from medfuse.errors import InputError

    for path in paths or []:
        if not path.exists():
            raise InputError("no such file or folder", path=path)
    from medfuse._optional import require

    require("napari")
    from medfuse.napari._app import launch, screenshot_window

    viewer, panels = launch(paths or [], size=(width, height))
    if screenshot is None:
        import napari

        napari.run()
        return
    try:
        out = screenshot_window(viewer, panels, screenshot)
        error = panels["Study"].runner.status.text() if "failed" in \
            panels["Study"].runner.status.text() else None
    finally:
        panels["Orthogonal views"].detach()
        viewer.close()
    if error:
        raise InputError(error)
    typer.echo(str(out))
