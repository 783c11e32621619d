"""``medfuse plugins``: installed modalities, fusion methods and presets, and where each came from."""

from __future__ import annotations

import json

import typer

from medfuse.cli._app import app


@app.command()
def plugins(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one entry per plugin."),
) -> None:
    """List installed modalities, fusion methods and registration presets (failed ones too)."""
    from medfuse.plugins import list_plugins

    entries = list_plugins()
    if as_json:
        typer.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="MedFuse plugins")
    for column in ("kind", "name", "origin", "status", "detail"):
        table.add_column(column)
    for e in entries:
        status = "ok" if e.status == "ok" else f"[red]{e.status}[/red]"
        table.add_row(e.kind, e.name, e.origin, status, e.detail)
    Console().print(table)
