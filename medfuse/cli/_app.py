"""The typer application that every command module registers itself on."""

from __future__ import annotations

import typer
import typer.core

# An argument is named by its metavar and explained by its help; typer (0.29) also prints its
# Python type after the name ("FIXED <path>", "MOVING <list[Path]>"), which reads as noise.
typer.core.TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]

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
