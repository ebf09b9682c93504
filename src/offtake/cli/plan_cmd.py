"""``offtake plan``: allocate the programme cap to candidate sites."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from offtake import scenario as scenario_mod
from offtake.cli._period import DaysOpt, first_days
from offtake.cli._progress import StepProgress
from offtake.errors import InputError
from offtake.report import share_text

if TYPE_CHECKING:
    from offtake.planning import PlanResult
    from offtake.planning.expansion import ExpansionData
    from offtake.planning.simulated_terms import SimulatedTerms
    from offtake.scenario import Scenario

__all__ = ["register"]


def _check_cap(cap_mw: float, installed_mw: float | None = None) -> None:
    """Refuse a programme cap that means nothing: not positive, or above the grid's installed capacity."""
    if not 0 < cap_mw < float("inf"):
        raise InputError(f"must be a cap > 0 [MW], got {cap_mw:g}", field="--cap-mw")
    if installed_mw is not None and cap_mw > installed_mw:
        raise InputError(
            f"{cap_mw:g} MW is more than the scenario's whole installed capacity ({installed_mw:,.0f} MW)",
            field="--cap-mw",
        )


def register(app: typer.Typer) -> None:
    """Add the ``plan`` command to ``app``."""

    @app.command("plan")
    def plan_cmd(
        scenario: Annotated[str, typer.Option(help="Scenario folder or bundled name, e.g. pakistan-2025.")],
        sites: Annotated[Path, typer.Option(help="Candidate-sites CSV (format in docs/formats.md).")],
        cap_mw: Annotated[float, typer.Option("--cap-mw", help="National programme cap [MW].")],
        out: Annotated[Path, typer.Option(help="Folder for report.html and allocation.csv.")],
        objective: Annotated[str, typer.Option(help="margin (tariff revenue minus fuel cost) or energy.")] = "margin",
        min_sizes: Annotated[bool, typer.Option("--min-sizes", help="Enforce each site's min_size_mw (MILP).")] = False,
        max_step_mw: Annotated[
            float | None,
            typer.Option(
                "--max-step-mw",
                help="Largest simultaneous curtailment step [MW] (default: planning data).",
            ),
        ] = None,
        method: Annotated[
            str,
            typer.Option(
                help="LP method: simplex (exact vertex and shadow prices), pdlp (first order, "
                "for a year of hours), or auto (pdlp from 1,000 intervals, simplex below).",
            ),
        ] = "auto",
        days: DaysOpt = None,
        expand: Annotated[
            bool,
            typer.Option(
                "--expand",
                help="Also decide new solar, wind and batteries per zone, paid by the off-take, serving the sites "
                "(writes expansion.csv and renewable_share.csv).",
            ),
        ] = False,
        expand_days: Annotated[
            int | None,
            typer.Option(
                "--expand-days",
                help="With --expand: size the build on N days spread over the period, then plan the whole "
                "period with it fixed (default: 28 days for periods of 1,000 intervals or more, error in "
                "bench_plan.py; 0: size on the whole period in one LP).",
            ),
        ] = None,
        min_renewable_share: Annotated[
            float,
            typer.Option(
                "--min-renewable-share",
                help="With --expand: least share of the sites' energy over the period from the new build "
                "(0 to 1; default 0, build only what pays).",
            ),
        ] = 0.0,
        discount_rate: Annotated[
            float | None,
            typer.Option(
                "--discount-rate",
                help="With --expand: real discount rate for the build's capital (0 to 1; default: the data "
                "file's finance.discount_rate).",
            ),
        ] = None,
        finance_cases: Annotated[
            bool,
            typer.Option(
                "--finance-cases",
                help="With --expand: also size the build at each of the data file's [finance.cases] rates "
                "(concessional, local lending) and show MW built, cost per MWh and renewable share in the report.",
            ),
        ] = False,
        expansion_data: Annotated[
            Path | None,
            typer.Option(
                "--expansion-data",
                help="Candidates and costs for --expand (default: the bundled data/economics/expansion.toml).",
            ),
        ] = None,
        event_length: Annotated[
            bool,
            typer.Option(
                "--event-length/--no-event-length",
                help="Keep each site's longest curtailment event within its contract (serve it in full inside "
                "over-long events and solve again); --no-event-length only flags such sites.",
            ),
        ] = True,
        check_seeds: Annotated[
            str,
            typer.Option(
                "--check-seeds",
                help="Before writing the report, simulate the planned period on these seeds (as offtake simulate "
                "--seed N) and flag every site whose simulated year breaks a contract term: e.g. 1, 1-5, 3,5, or none "
                "to skip (a full year costs about a minute per seed; more seeds, more confidence).",
            ),
        ] = "1",
        check_step: Annotated[
            str, typer.Option("--check-step", help="Dispatch step of those simulated years, e.g. 5min, 15min.")
        ] = "5min",
        solver_log: Annotated[
            bool,
            typer.Option(
                "--solver-log",
                help="Show HiGHS's own log of the allocation solve on stderr (iterations, primal-dual gap, time).",
            ),
        ] = False,
    ) -> None:
        """Plan how many MW each site gets, firm or interruptible.

        Writes report.html and allocation.csv to OUT and prints a summary per zone.
        """
        from offtake.planning import PlanOptions, plan, read_sites, write_allocation_csv
        from offtake.planning.expansion_finance import add_finance_sensitivity
        from offtake.planning.expansion_plan import default_sample_days, plan_with_expansion
        from offtake.planning.report import write_report
        from offtake.planning.simulated_terms import write_terms_check_csv

        _check_cap(cap_mw)
        seeds, step_s = _check_args(check_seeds, check_step)
        options = PlanOptions(
            cap_mw=cap_mw,
            objective=objective,  # type: ignore[arg-type]  # checked by PlanOptions
            min_sizes=min_sizes,
            max_curtailment_step_mw=max_step_mw,
            method=method,  # type: ignore[arg-type]  # checked by PlanOptions
            solver_options={"output_flag": True} if solver_log else {},
            event_length=event_length,
        )
        with StepProgress("plan") as progress:
            progress(f"loading scenario {scenario}")
            s = first_days(scenario_mod.load(scenario), days)
            _check_cap(cap_mw, float(s.plants["capacity_mw"].sum()))
            _check_step_divides(s.resolution_s, step_s, seeds)
            candidates = read_sites(sites, s.zone_ids)
            data = _expansion_data(expand, expand_days, expansion_data, objective, min_renewable_share)
            data = _finance(data, discount_rate, finance_cases)
            if data is None:
                result = plan(s, candidates, options, progress=progress)
            else:
                sample = default_sample_days(s) if expand_days is None else (expand_days or None)
                result = plan_with_expansion(
                    s, candidates, options, data, days=sample, min_share=min_renewable_share, progress=progress
                )
                if finance_cases:
                    add_finance_sensitivity(
                        result,
                        s,
                        candidates,
                        options,
                        data,
                        days=sample,
                        min_share=min_renewable_share,
                        progress=progress,
                    )
            out.mkdir(parents=True, exist_ok=True)
            progress("writing allocation.csv")
            write_allocation_csv(result, out / "allocation.csv")
            if seeds:
                result.simulated_terms = _simulated_check(s, out / "allocation.csv", seeds, step_s, progress)
            progress("writing terms_check.csv and report.html")
            write_terms_check_csv(result.terms, result.simulated_terms, out / "terms_check.csv")
            write_report(result, out / "report.html", scenario=s)
            _write_expansion(result, out)
            progress("done")
        _print_summary(result, cap_mw, len(candidates), out)


def _check_args(seeds_text: str, step_text: str) -> tuple[list[int], int]:
    """Parse ``--check-seeds`` and ``--check-step``."""
    from offtake.cli.simulate_cmd import parse_step
    from offtake.simulation.plan_check import parse_seeds

    try:
        step_s = parse_step(step_text)
    except InputError as exc:
        raise InputError(exc.message, field="--check-step") from None
    return parse_seeds(seeds_text), step_s


def _check_step_divides(resolution_s: int, step_s: int, seeds: list[int]) -> None:
    """Refuse a ``--check-step`` that does not divide the scenario's interval (when the check runs)."""
    if seeds and resolution_s % step_s != 0:
        raise InputError(
            f"a step of {step_s} s does not divide the scenario's {resolution_s} s interval (e.g. 5min, 15min)",
            field="--check-step",
        )


def _simulated_check(
    scenario: Scenario, allocation: Path, seeds: list[int], step_s: int, progress: StepProgress
) -> SimulatedTerms:
    """Simulate the planned period on each seed from the allocation.csv just written (as offtake simulate reads it)."""
    from offtake.dispatch import read_allocation
    from offtake.simulation.plan_check import check_plan_by_simulation

    contracts = read_allocation(allocation, scenario.zone_ids)
    return check_plan_by_simulation(scenario, contracts, seeds, float(step_s), progress=progress)


def _expansion_data(
    expand: bool, days: int | None, data: Path | None, objective: str, min_share: float
) -> ExpansionData | None:
    """Return the expansion candidates and costs, or None without ``--expand``."""
    from offtake.planning.expansion import load_expansion

    if not expand:
        given = ((data, "--expansion-data"), (days, "--expand-days"), (min_share or None, "--min-renewable-share"))
        for value, name in given:
            if value is not None:
                raise InputError("given without --expand", field=name)
        return None
    if objective != "margin":
        raise InputError("--expand needs --objective margin (the build is paid from the margin)", field="--objective")
    if not 0.0 <= min_share <= 1.0:
        raise InputError(f"must be a share between 0 and 1, got {min_share:g}", field="--min-renewable-share")
    if days is not None and days < 0:
        raise InputError(f"must be a number of days >= 0, got {days}", field="--expand-days")
    return load_expansion(data)


def _finance(data: ExpansionData | None, rate: float | None, cases: bool) -> ExpansionData | None:
    """Apply ``--discount-rate``; refuse it and ``--finance-cases`` without ``--expand``."""
    if data is None:
        for given, name in ((rate is not None, "--discount-rate"), (cases, "--finance-cases")):
            if given:
                raise InputError("given without --expand", field=name)
        return None
    return data if rate is None else data.with_discount_rate(rate, name="--discount-rate")


def _write_expansion(result: PlanResult, out: Path) -> None:
    """Write expansion.csv (what to build) and renewable_share.csv (per interval and site)."""
    from offtake.planning.expansion_results import write_renewable_share_csv

    if result.expansion is None:
        return
    result.expansion.build.round(6).to_csv(out / "expansion.csv")
    write_renewable_share_csv(result.expansion, out / "renewable_share.csv")


def _print_summary(result: PlanResult, cap_mw: float, n_candidates: int, out: Path) -> None:
    """Print the per-zone table, the national line, what binds most and any figures withheld."""
    nat = result.national
    typer.echo(result.summary().to_string())
    line = (
        f"allocated {nat['allocated_mw']:,.0f} MW of {cap_mw:,.0f} MW "
        f"({nat['firm_mw']:,.0f} firm, {nat['interruptible_mw']:,.0f} interruptible) to "
        f"{int((result.allocation['allocated_mw'] > 0).sum())} of {n_candidates} sites; "
        f"revenue {nat['revenue_usd'] / 1e6:,.2f} M USD, extra fuel (national) {nat['fuel_cost_usd'] / 1e6:,.2f} "
        f"M USD, net margin {nat['net_margin_usd'] / 1e6:,.2f} M USD over {result.horizon_h:,.0f} h"
    )
    if nat.get("capacity_payments_offset_share") is not None:
        share = share_text(nat["capacity_payments_offset_share"], 2)
        line += f", {share} of {nat['capacity_payments_year']} capacity payments"
    typer.echo(line)
    if not result.binding.empty:
        top = result.binding.iloc[0]
        typer.echo(f"binds most: {top['constraint']} ({top['worth_per_year']:,.0f} {top['unit']})")
    if result.expansion is not None:
        e, z = result.expansion.totals, result.expansion.zones.loc["national"]
        typer.echo(
            f"build: solar {z['solar_mw']:,.0f} MW, wind {z['wind_mw']:,.0f} MW, batteries {z['battery_mw']:,.0f} MW / "
            f"{z['battery_mwh']:,.0f} MWh; {e['renewable_energy_mwh'] / 1e3:,.1f} GWh of new renewable energy to the "
            f"sites ({share_text(e['renewable_share'])} of their energy) at {e['cost_usd_per_mwh']:,.1f} USD/MWh; "
            f"net margin after the build {nat['net_margin_usd'] / 1e6:,.2f} M USD"
        )
    if result.terms is not None and result.terms.breaches:
        typer.echo(f"contract terms broken by the planned dispatch ({len(result.terms.sites_breaking_terms)} site(s)):")
        for text in result.terms.lines():
            typer.echo(f"  {text}")
    sim = result.simulated_terms
    if sim is not None:
        seeds = ", ".join(str(x) for x in sim.seeds)
        if sim.sites_breaking_terms:
            typer.echo(
                f"contract terms broken in the simulated years (seeds {seeds}; "
                f"{len(sim.sites_breaking_terms)} site(s)):"
            )
            for text in sim.lines():
                typer.echo(f"  {text}")
        else:
            typer.echo(f"no contract term broken in the simulated years (seeds {seeds})")
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    extra = ", expansion.csv, renewable_share.csv" if result.expansion is not None else ""
    typer.echo(f"wrote {out / 'allocation.csv'}{extra}, {out / 'terms_check.csv'} and {out / 'report.html'}")
