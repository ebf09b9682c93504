"""``offtake scenario``: list and check scenarios."""

from __future__ import annotations

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

    app.add_typer(group, name="scenario")
