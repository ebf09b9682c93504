"""``offtake assess``: the regional surplus assessment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from offtake.cli._period import DaysOpt, first_days

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``assess`` command to ``app``."""

    @app.command("assess")
    def assess(
        scenario: Annotated[str, typer.Option(help="Scenario folder or bundled name.")] = "pakistan-2025",
        out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/assess"),
        tariff_usd_per_mwh: Annotated[
            float | None, typer.Option("--tariff", help="Off-take tariff [USD/MWh]; the scenario's default if omitted.")
        ] = None,
        days: DaysOpt = None,
        no_sensitivity: Annotated[
            bool,
            typer.Option(
                "--no-sensitivity", help="Leave out the sweep of each fuel's price and the tariff (sensitivity.csv)."
            ),
        ] = False,
    ) -> None:
        """Assess surplus per zone and hour, the tariff-surplus curve and headroom; write report.html and CSVs."""
        from offtake import scenario as scenario_mod
        from offtake.progress import Progress
        from offtake.surplus.report import summary_table
        from offtake.surplus.study import run_assessment, write_outputs

        if tariff_usd_per_mwh is not None and not (0 < tariff_usd_per_mwh < float("inf")):
            from offtake.errors import InputError

            raise InputError(f"must be a tariff > 0 [USD/MWh], got {tariff_usd_per_mwh:g}", field="--tariff")
        progress = Progress(6 if no_sensitivity else 7)
        progress.step(f"loading scenario {scenario}")
        loaded = first_days(scenario_mod.load(scenario), days)
        result = run_assessment(loaded, tariff_usd_per_mwh, progress=progress, with_sensitivity=not no_sensitivity)
        progress.step(f"writing report and CSV files to {out}")
        paths = write_outputs(result, out)
        progress.done("assessment finished")
        table = summary_table(result)
        typer.echo(f"\nSurplus at {result.surplus.tariff_usd_per_mwh:.2f} USD/MWh [MW]")
        typer.echo(table.to_string(float_format=lambda v: f"{v:,.0f}"))
        typer.echo("")
        for role, path in paths.items():
            typer.echo(f"{role:>13}: {path}")
