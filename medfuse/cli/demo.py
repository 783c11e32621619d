"""``medfuse demo -o DIR``: the whole product on the bundled sample study (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo"), "-o", "--out", help="Output folder."),
) -> None:
    """Register the sample study's MR and PET to its CT, fuse, and write volumes, overlays, report."""
    from rich.console import Console

    from medfuse.demo import run_demo

    console = Console()

    def say(text: str) -> None:  # one line each (paths unbroken), however narrow the terminal
        console.print(text, soft_wrap=True, markup=False, highlight=False)

    with console.status("running the demo on the sample study..."):
        written = run_demo(out, say=say)
    console.print("[bold]wrote:[/bold]")
    for label, path in written.items():
        say(f"  {label:28s} {path}")
