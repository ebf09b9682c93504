"""``offtake scenario``: list and check scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from offtake import scenario as scenario_mod

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``scenario`` command group to ``app``."""
    group = typer.Typer(help="List and validate scenarios.", no_args_is_help=True)

    @group.command("list")
    def list_() -> None:
        """List the bundled scenarios."""
        for name in scenario_mod.bundled_names():
            typer.echo(name)

    @group.command("check")
    def check(path: Annotated[str, typer.Argument(help="Scenario folder or bundled name.")]) -> None:
        """Validate a scenario and print what it holds."""
        s = scenario_mod.load(path)
        demand_gwh = float(s.demand_mw.to_numpy().sum()) * s.duration_h / 1000.0
        typer.echo(
            f"{s.name}: {len(s.index)} intervals of {s.resolution_s} s from {s.index[0].isoformat()}, "
            f"{len(s.zones)} zones, {len(s.corridors)} corridors, {len(s.plants)} plants "
            f"({s.plants['capacity_mw'].sum():,.0f} MW), demand {demand_gwh:,.0f} GWh"
        )

    @group.command("profiles")
    def profiles(
        path: Annotated[str, typer.Argument(help="Scenario folder or bundled name.")],
        out: Annotated[Path, typer.Option(help="Where to write the profiles CSV.")] = Path("out/profiles.csv"),
    ) -> None:
        """(Re)generate a scenario's solar (per zone, utility and rooftop) and wind profiles from physics."""
        from offtake.progress import Progress
        from offtake.renewables.generate import generate

        progress = Progress(len(scenario_mod.load_layout(path)[0]) + 1)
        written = generate(path, out, report=progress.step)
        progress.done(f"profiles written to {written}")

    app.add_typer(group, name="scenario")
