"""``offtake simulate``: drive the dispatch core through a simulated year."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from offtake.errors import InputError
from offtake.report import share_text

__all__ = ["parse_step", "register"]

_UNITS_S = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}


def parse_step(text: str) -> int:
    """Parse a step such as ``5min``, ``300s`` or ``1h`` into seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*(s|sec|min|m|h)\s*", text)
    if match is None:
        raise InputError(f"'{text}' is not a step such as 5min, 300s or 1h", field="--step")
    seconds = int(match.group(1)) * _UNITS_S[match.group(2)]
    if seconds <= 0:
        raise InputError("the step must be positive", field="--step")
    return seconds


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command("simulate")
    def simulate(
        scenario: Annotated[str, typer.Option(help="Scenario folder or bundled name.")],
        allocation: Annotated[Path, typer.Option(help="allocation.csv from offtake plan.")],
        out: Annotated[Path, typer.Option(help="Folder for report.html and kpis.json.")],
        step: Annotated[str, typer.Option(help="Dispatch step, e.g. 5min, 15min, 1h.")] = "5min",
        seed: Annotated[int, typer.Option(help="Seed of the random trouble; same seed, same year.")] = 0,
        safety_k: Annotated[
            float | None,
            typer.Option(help="Safety margin in sigma of the forecast error (default from data)."),
        ] = None,
        ignoring_site: Annotated[
            str, typer.Option(help="Site that ignores its cap: a site id, 'auto' or 'none'.")
        ] = "auto",
        by_bid: Annotated[
            bool,
            typer.Option("--by-bid", help="Serve every site in order of its bid, not pro rata."),
        ] = False,
    ) -> None:
        """Replay the scenario's year at the chosen step and report on dispatch.

        The year brings forecast errors, forced outages, emergencies, lagging sites and one
        site that ignores its cap; writes report.html and kpis.json.
        """
        from offtake import scenario as scenario_mod
        from offtake.dispatch import DispatchPolicy, read_allocation
        from offtake.progress import Progress
        from offtake.simulation import compute_kpis
        from offtake.simulation import simulate as run_simulation
        from offtake.simulation.report import write_outputs

        progress = Progress(5)
        step_s = parse_step(step)
        progress.step(f"loading scenario {scenario}")
        scen = scenario_mod.load(scenario)
        if scen.resolution_s % step_s != 0:
            raise InputError(
                f"a step of {step_s} s does not divide the scenario's {scen.resolution_s} s interval "
                f"(e.g. 5min, 15min, 1h)",
                field="--step",
            )
        contracts = read_allocation(allocation, scen.zone_ids)
        if ignoring_site not in ("auto", "none", *contracts.site_ids):
            from difflib import get_close_matches

            close = get_close_matches(ignoring_site, contracts.site_ids, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; give a site id of the file, auto or none"
            raise InputError(f"no site '{ignoring_site}' in {allocation}{hint}", field="--ignoring-site")
        if by_bid:
            contracts = contracts.with_rule(True)
        progress.step("assessing surplus per zone and hour")
        try:
            from offtake.surplus import assess_surplus
        except ImportError:
            raise InputError("the surplus assessment (offtake.surplus) is not installed") from None
        assessed = assess_surplus(scen)
        from offtake.simulation.region import ScheduledSets
        from offtake.surplus.assess import set_surplus

        sets = ScheduledSets(*set_surplus(scen, assessed.tariff_usd_per_mwh, assessed.baseline))
        largest = scen.reserve.largest_unit_mw if scen.reserve.hold_largest_unit else None
        policy = DispatchPolicy.default(
            interval_s=step_s,
            largest_unit_mw=largest,
            reference_tariff_usd_per_mwh=scen.default_tariff_usd_per_mwh,
            safety_k=safety_k,
        )
        n_steps = len(scen.index) * max(1, scen.resolution_s // step_s)
        progress.step(f"simulating {n_steps:,} intervals of {step_s} s, {contracts.n_sites} sites, seed {seed}")

        def tick(share: float) -> None:
            sys.stderr.write(f"\r  {share:6.1%}")
            if share >= 1.0:
                sys.stderr.write("\n")
            sys.stderr.flush()

        started = time.perf_counter()
        result = run_simulation(
            scen,
            contracts,
            assessed.zone_mw,
            national_surplus_mw=assessed.national_mw,
            sets=sets,
            step_s=step_s,
            seed=seed,
            policy=policy,
            ignoring_site=None if ignoring_site == "none" else ignoring_site,
            progress=tick,
        )
        runtime = time.perf_counter() - started
        progress.step("computing key figures")
        kpis = compute_kpis(result, runtime_s=runtime)
        progress.step(f"writing {out}/report.html and kpis.json")
        kpi_path, html_path = write_outputs(result, kpis, out, scen.title)
        progress.done()
        e, s = kpis["energy"], kpis["safety"]
        share = e["share_of_planner_bound"]
        typer.echo(
            f"energy {e['absorbed_within_caps_mwh'] / 1000:,.1f} GWh"
            + (f" ({share_text(share)} of the planner's bound" if share is not None else "")
            + (
                f"; licensed sites {share_text(e['licensed_sites_share_of_planner_bound'])})"
                if e["licensed_sites_share_of_planner_bound"] is not None
                else ")"
                if share is not None
                else ""
            )
            + f"; {s['intervals_over_real_surplus']} intervals over real surplus "
            f"({s['energy_over_real_surplus_mwh']:,.1f} MWh); ignoring site "
            f"{kpis['ignoring_site'].get('site_id') or 'none'}"
            + (" found" if kpis["ignoring_site"].get("found") else "")
            + f"; wrote {html_path} and {kpi_path}"
        )
        broken = kpis["contracts"]["sites_breaking_terms"]
        if broken:
            typer.echo(f"warning: contract terms broken by {', '.join(broken)} (kpis.json 'contracts')", err=True)
