"""The typer application that every command module registers itself on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="medfuse",
    help="Multimodal medical image registration and fusion (CT, MR, PET, SPECT).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: flags show no "<bool>", options their metavar
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Multimodal medical image registration and fusion (CT, MR, PET, SPECT)."""
