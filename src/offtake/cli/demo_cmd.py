"""``offtake demo``: the whole programme live on one machine for ``--duration`` seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""

    @app.command("demo")
    def demo(
        duration: Annotated[float, typer.Option(help="How long to run [s].", min=10)] = 60,
        sites: Annotated[int, typer.Option(help="Sites, each with agent, fake fleet, meter.", min=1, max=20)] = 3,
        miners: Annotated[int, typer.Option(help="Fake miners per site.", min=1, max=250)] = 8,
        scenario: Annotated[str, typer.Option(help="Bundled scenario the grid feed replays.")] = "pakistan-2025",
        keep: Annotated[Path | None, typer.Option(help="Keep the database and logs in this folder.")] = None,
    ) -> None:
        """Run the server, agents, fake fleets and meters; dispatch live, trip an emergency, print a bill."""
        from offtake.cli.demo import run_demo

        run_demo(typer.echo, duration_s=duration, sites=sites, miners=miners, scenario=scenario, keep=keep)
