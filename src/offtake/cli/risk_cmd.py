"""``offtake risk``: Monte Carlo of the programme's economics over a horizon of months."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from offtake import scenario as scenario_mod
from offtake.economics.country import Incentives
from offtake.errors import InputError
from offtake.risk.from_scenario import gas_surface, prepare_inputs
from offtake.risk.inputs import load_risk_parameters, read_allocation
from offtake.risk.report import RunInfo, format_probability, write_outputs
from offtake.risk.run import RiskOptions, build_model, default_tariff_grid, run_risk

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``risk`` command to ``app``."""

    @app.command("risk")
    def risk(
        scenario: Annotated[str, typer.Option(help="Scenario folder or bundled name.")],
        allocation: Annotated[Path, typer.Option(help="allocation.csv (docs/formats.md).")],
        out: Annotated[Path, typer.Option(help="Folder for report.html, summary.json and CSV tables.")],
        paths: Annotated[int, typer.Option(help="Number of Monte Carlo paths.")] = 10_000,
        seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same result.")] = 1,
        months: Annotated[int, typer.Option(help="Horizon [months].")] = 36,
        scheduler: Annotated[
            str | None,
            typer.Option(help="Dask scheduler address (tcp://host:port); in process if absent."),
        ] = None,
        tariff: Annotated[
            float | None,
            typer.Option(help="One tariff for every site instead of the allocation's [USD/MWh]."),
        ] = None,
        asic: Annotated[str | None, typer.Option(help="ASIC model of the mining sites (see asic_models.csv).")] = None,
        target: Annotated[str, typer.Option(help="Event the tariff solve bounds: 'leave' or 'stop'.")] = "leave",
        max_probability: Annotated[float, typer.Option(help="Highest acceptable probability of that event.")] = 0.10,
        grid_step: Annotated[float, typer.Option(help="Step of the tariff grid [USD/MWh].")] = 5.0,
        import_exemption: Annotated[bool, typer.Option(help="Grant the hardware import-tax exemption.")] = True,
        ai_tax_reduction: Annotated[bool, typer.Option(help="Grant the AI facility tax reduction.")] = True,
        count_import_tax: Annotated[
            bool,
            typer.Option(
                help="Count the import tax the exemption waives as forgone by the country (as if the "
                "programme's hardware would be imported without it; off: it would not be)."
            ),
        ] = False,
        gas_driver: Annotated[
            bool,
            typer.Option(
                help="Let the gas (RLNG) price move the surplus and the fuel cost (risk.toml [gas_price]); "
                "off: the surplus at today's fuel prices throughout."
            ),
        ] = True,
    ) -> None:
        """Simulate BTC price, hashrate, fees, halving, demand, solar and gas price; write report.html."""
        started = time.perf_counter()
        if target not in ("leave", "stop"):
            raise InputError(f"expected 'leave' or 'stop', got '{target}'", field="--target")
        if not 0 <= max_probability <= 1:
            raise InputError("must be between 0 and 1", field="--max-probability")
        if not grid_step > 0:
            raise InputError("must be > 0", field="--grid-step")
        if paths < 1:
            raise InputError(f"must be at least 1 path, got {paths}", field="--paths")
        if months < 1:
            raise InputError(f"must be at least 1 month, got {months}", field="--months")
        if tariff is not None and not (0 < tariff < float("inf")):
            raise InputError(f"must be a tariff > 0 [USD/MWh], got {tariff:g}", field="--tariff")
        low, high = min(default_tariff_grid()), max(default_tariff_grid())
        grid = tuple(low + i * grid_step for i in range(int((high - low) / grid_step) + 1))
        s = scenario_mod.load(scenario)
        sites = read_allocation(allocation, s.zone_ids)
        typer.echo("risk: assessing the scenario's surplus", err=True)
        prepared = prepare_inputs(s, sites)
        parameters = load_risk_parameters()
        gas = None
        if gas_driver:
            typer.echo("risk: assessing the surplus at multiples of the gas price", err=True)
            gas = gas_surface(s, sites, prepared, parameters.gas_technologies)
            if gas is None:
                typer.echo(
                    f"risk: no plant of {', '.join(parameters.gas_technologies)} in {s.name}; the gas price "
                    "moves nothing",
                    err=True,
                )
        options = RiskOptions(
            seed=seed,
            n_months=months,
            tariff_usd_per_mwh=tariff,
            tariff_grid_usd_per_mwh=grid,
            asic_model=asic,
            incentives=Incentives(
                hardware_import_exemption=import_exemption,
                ai_tax_reduction=ai_tax_reduction,
                import_tax_counted=count_import_tax,
            ),
            target="leave" if target == "leave" else "stop",
            max_probability=max_probability,
        )
        model, context = build_model(
            prepared.profiles,
            sites,
            options,
            exchange_rate_pkr_per_usd=s.exchange_rate_pkr_per_usd,
            parameters=parameters,
            gas=gas,
        )
        result = run_risk(model, context, paths, scheduler_address=scheduler)
        info = RunInfo(s.name, str(allocation), seed, scheduler, time.perf_counter() - started)
        written = write_outputs(result, out, info, prepared.no_subsidy)
        solved = result.solved_tariff_usd_per_mwh()
        absorbed_twh = float(result.outcome_paths()["absorbed_twh"].median())
        typer.echo(
            f"absorbed P50 {absorbed_twh:.2f} TWh; P(miner leaves) "
            f"{format_probability(float(result.arrays['miners_left'][0].mean()))}; tariff for P({target}) <= "
            f"{format_probability(max_probability, 0)}: "
            f"{'none in the grid' if solved is None else f'{solved:g} USD/MWh'}; report "
            f"{written['report']}"
        )
