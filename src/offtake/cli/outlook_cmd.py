"""``offtake outlook``: compare scenario years (surplus by zone and hour, headroom, the programme)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from offtake.cli._period import DaysOpt, first_days

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``outlook`` command to ``app``."""

    @app.command("outlook")
    def outlook(
        scenarios: Annotated[
            list[str],
            typer.Option(
                "--scenarios",
                help="Scenario folders or bundled names, in the order shown: "
                "--scenarios pakistan-2025 pakistan-2030 (or the option once per scenario).",
            ),
        ],
        more: Annotated[
            list[str] | None, typer.Argument(help="More scenarios, after the first --scenarios.", show_default=False)
        ] = None,
        out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/outlook"),
        programme_mw: Annotated[
            float | None,
            typer.Option("--programme-mw", help="The programme's flat load [MW]; the announced one if omitted."),
        ] = None,
        days: DaysOpt = None,
    ) -> None:
        """Compare scenario years: surplus by zone and hour of day, headroom, and what the programme does to it."""
        from offtake import scenario as scenario_mod
        from offtake.progress import Progress
        from offtake.surplus.outlook import default_programme_mw, run_outlook, write_outlook

        scenarios = [*scenarios, *(more or [])]
        programme = default_programme_mw() if programme_mw is None else programme_mw
        from offtake.errors import InputError

        if not 0 < programme < float("inf"):
            raise InputError(f"must be > 0 [MW], got {programme:g}", field="--programme-mw")
        if len(scenarios) < 2 or len(set(scenarios)) != len(scenarios):
            raise InputError(f"give two or more different scenarios, got {' '.join(scenarios)}", field="--scenarios")
        progress = Progress(3 * len(scenarios) + 1)
        loaded = []
        for name in scenarios:
            progress.step(f"loading scenario {name}")
            loaded.append(first_days(scenario_mod.load(name), days))
        result = run_outlook(loaded, programme, progress=progress)
        progress.step(f"writing report and CSV files to {out}")
        paths = write_outlook(result, out)
        progress.done("outlook finished")
        typer.echo(result.table("programme").to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
        for role, path in paths.items():
            typer.echo(f"{role:>9}: {path}")
