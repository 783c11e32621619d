"""Options that several commands share, spelled once: ``-o/--out``, ``--modality``/``--units``
for NIfTI inputs, and how a ``PATH=VALUE`` option is parsed."""

from __future__ import annotations

from pathlib import Path

import typer

#: help text of the NIfTI modality and units options
MODALITY_HELP = "Modality of a NIfTI input (CT, MR, PT, NM ...; NIfTI records none)."
UNITS_HELP = "Value units of a NIfTI input (HU, SUVbw, BQML, a.u. ...; NIfTI records none)."


def out_option(help_text: str, *, required: bool = True) -> typer.models.OptionInfo:
    """The ``-o/--out`` option of every command that writes."""
    return typer.Option(... if required else None, "-o", "--out", help=help_text,
                        metavar="PATH", show_default=False)


def units_per_path_option() -> typer.models.OptionInfo:
    """The repeatable ``--units PATH=UNITS`` option of the commands that read several NIfTI files."""
    return typer.Option([], "--units", metavar="PATH=UNITS",
                        help="Value units of a NIfTI input, e.g. pet.nii.gz=SUVbw (repeatable).")


def per_path(items: list[str], option: str, form: str = "PATH=VALUE") -> dict[str, str]:
    """``PATH=VALUE`` items as ``{path: value}``.

    Raises
    ------
    typer.BadParameter
        An item without ``=`` or with an empty side.

    Examples
    --------
    >>> per_path(["pet.nii.gz=PT"], "--modality")
    {'pet.nii.gz': 'PT'}
    """
    out = {}
    for item in items:
        path, _, value = item.rpartition("=")
        if not path or not value:
            raise typer.BadParameter(f"{option} must be {form}, not {item!r}")
        out[str(Path(path))] = value
    return out
