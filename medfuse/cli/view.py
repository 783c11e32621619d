"""``medfuse view [PATHS...] [--screenshot FILE] [--at X,Y,Z] [--layout 2x2|1x3|single]
[--modality PATH=CODE] [--units PATH=UNITS]``."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app
from medfuse.cli._options import per_path, units_per_path_option


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


def nifti_overrides(paths: list[Path], modalities: dict[str, str], units: dict[str, str],
                    ) -> dict[str, tuple[str | None, str | None]]:
    """``{path: (modality, units)}`` for the ``--modality`` and ``--units`` options, each naming
    one of ``paths`` (a file) and a known modality code.

    Raises
    ------
    InputError
        A path that is not one of ``paths`` or is a folder, or an unknown modality code.

    Examples
    --------
    >>> nifti_overrides([Path("pet.nii.gz")], {"pet.nii.gz": "pt"}, {"pet.nii.gz": "SUVbw"})
    {'pet.nii.gz': ('PT', 'SUVbw')}
    """
    from medfuse.errors import InputError
    from medfuse.modalities import available_modalities

    given = {str(p) for p in paths}
    codes = set(available_modalities())
    for option, named in (("--modality", modalities), ("--units", units)):
        for path in named:
            if path not in given or Path(path).is_dir():
                raise InputError(f"{option} names {path!r}, which is not one of the files to view "
                                 f"({', '.join(sorted(given)) or 'none given'})")
    for path, code in modalities.items():
        if code.upper() not in codes:
            raise InputError(f"--modality {path}={code}: unknown modality code; known: "
                             f"{', '.join(sorted(codes))}")
    return {path: (modalities[path].upper() if path in modalities else None, units.get(path))
            for path in sorted({*modalities, *units})}


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
    modality: list[str] = typer.Option([], "--modality", metavar="PATH=CODE",
                                       help="Modality of a NIfTI input in place of the reader's "
                                            "guess, e.g. pet.nii.gz=PT (repeatable)."),
    units: list[str] = units_per_path_option(),
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
    try:
        named = per_path(modality, "--modality", "PATH=CODE"), per_path(units, "--units",
                                                                         "PATH=UNITS")
    except typer.BadParameter as err:  # one line, as every bad input
        raise InputError(err.message) from err
    overrides = nifti_overrides(paths or [], *named)
    from medfuse._optional import require

    require("napari")
    from medfuse.napari._app import launch, screenshot_window

    viewer, panels = launch(paths or [], size=(width, height), layout=layout, at=point, fov_mm=fov,
                            overrides=overrides)
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
