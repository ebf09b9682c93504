"""``offtake registry contract``: off-take contracts, one by one or from the imported allocation.

Thin wrappers over :mod:`offtake.registry.contracts`, acting as the local administrator. A
contract's bills are stated in PKR at its exchange rate: the one given, or the scenario's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from offtake.cli._platform import admin_session
from offtake.cli.server_cmd import DatabaseOpt, DataDirOpt
from offtake.timeutil import display_time
from offtake.units import MICRO_USD_PER_USD, W_PER_MW

if TYPE_CHECKING:
    from offtake.billing.bills import MonthlyBill

__all__ = ["register", "state_missing_rates"]

ValidFromOpt = Annotated[str, typer.Option("--valid-from", help="Start (ISO 8601 with offset).")]
ValidUntilOpt = Annotated[str | None, typer.Option("--valid-until", help="End (ISO 8601 with offset; default open).")]
ToleranceOpt = Annotated[
    float, typer.Option("--overdraw-tolerance", help="Share of the cap drawn above it without penalty [-], e.g. 0.02.")
]
PenaltyOpt = Annotated[
    str, typer.Option("--overdraw-penalty", help="Penalty per MWh above the cap and tolerance [USD/MWh].")
]
RateOpt = Annotated[
    str | None, typer.Option("--exchange-rate", help="PKR per USD for the bills (default: the scenario's).")
]
ScenarioOpt = Annotated[
    str, typer.Option("--scenario", help="Scenario whose exchange rate is used when none is given.")
]


def _rate(exchange_rate: str | None, scenario: str) -> tuple[str, str]:
    """Return the exchange rate [PKR/USD] as decimal text, and where it comes from."""
    if exchange_rate is not None:
        return exchange_rate, "given"
    from offtake import scenario as scenario_mod

    rate = scenario_mod.load(scenario).exchange_rate_pkr_per_usd
    return f"{rate:.6f}".rstrip("0").rstrip("."), f"scenario {scenario}"


def state_missing_rates(bill: MonthlyBill, scenario: str) -> list[str]:
    """Give lines without a contract the scenario's exchange rate; say which rate each line uses.

    Energy billed at an allocation tariff (no contract in force) has no contract rate; the bill
    then states it in PKR at the scenario's rate and says so.
    """
    from offtake.registry.contracts import to_micro

    missing = [line for line in bill.lines if line.exchange_rate_micro_pkr_per_usd is None]
    if missing:
        text, source = _rate(None, scenario)
        micro = to_micro(text, "exchange_rate_pkr_per_usd")
        for line in missing:
            line.exchange_rate_micro_pkr_per_usd = micro
        bill.warnings = [w for w in bill.warnings if "no PKR total" not in w]
        bill.warnings.append(f"energy without a contract is stated in PKR at {source}'s rate")
    stated = []
    for line in bill.lines:
        rate = (line.exchange_rate_micro_pkr_per_usd or 0) / MICRO_USD_PER_USD
        whose = f"contract {line.contract_id}" if line.contract_id else f"allocation tariff, scenario {scenario}"
        stated.append(f"{rate:,.4f} PKR/USD ({whose})")
    return stated


def register(registry: typer.Typer) -> None:
    """Add the ``contract`` command group to the ``registry`` group."""
    group = typer.Typer(
        help="Off-take contracts: tariff, tranches, curtailment terms, penalties.", no_args_is_help=True
    )

    @group.command("add")
    def add(
        site_id: Annotated[str, typer.Argument(metavar="SITE_ID", help="Site id.")],
        valid_from: ValidFromOpt,
        tariff: Annotated[str, typer.Option("--tariff", help="Tariff [USD/MWh].")],
        firm_mw: Annotated[float, typer.Option("--firm-mw", help="Firm tranche [MW].")],
        interruptible_mw: Annotated[float, typer.Option("--interruptible-mw", help="Interruptible tranche [MW].")],
        max_curtailment_fraction: Annotated[
            float, typer.Option("--max-curtailment-fraction", help="Deepest curtailment, share of the allocation [-].")
        ],
        max_curtailment_duration_h: Annotated[
            float, typer.Option("--max-curtailment-duration-h", help="Longest curtailment [h].")
        ],
        annual_curtailment_limit: Annotated[
            float, typer.Option("--annual-curtailment-limit", help="Share of the year's energy curtailed at most [-].")
        ],
        response_time_s: Annotated[float, typer.Option("--response-time-s", help="Time to follow a cap [s].")],
        overdraw_tolerance: ToleranceOpt,
        overdraw_penalty: PenaltyOpt,
        exchange_rate: RateOpt = None,
        scenario: ScenarioOpt = "pakistan-2025",
        valid_until: ValidUntilOpt = None,
        contract_id: Annotated[str | None, typer.Option("--id", help="Contract id (default: generated).")] = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Sign a contract for a site."""
        from offtake.identity.principal import SYSTEM
        from offtake.registry.contracts import create_contract
        from offtake.timeutil import parse_utc

        start = parse_utc(valid_from, field="--valid-from")
        end = parse_utc(valid_until, field="--valid-until") if valid_until else None
        rate, source = _rate(exchange_rate, scenario)
        with admin_session(database_url, data_dir) as session:
            contract = create_contract(
                session,
                SYSTEM,
                site_id=site_id,
                valid_from=start,
                valid_until=end,
                tariff_usd_per_mwh=tariff,
                firm_mw=firm_mw,
                interruptible_mw=interruptible_mw,
                max_curtailment_fraction=max_curtailment_fraction,
                max_curtailment_duration_h=max_curtailment_duration_h,
                annual_curtailment_limit=annual_curtailment_limit,
                response_time_s=response_time_s,
                overdraw_tolerance_fraction=overdraw_tolerance,
                overdraw_penalty_usd_per_mwh=overdraw_penalty,
                exchange_rate_pkr_per_usd=rate,
                contract_id=contract_id,
            )
            made = contract.id
        typer.echo(f"contract {made} for {site_id} from {display_time(start)}; bills at {rate} PKR/USD ({source})")

    @group.command("from-allocation")
    def from_allocation(
        valid_from: ValidFromOpt,
        overdraw_tolerance: ToleranceOpt,
        overdraw_penalty: PenaltyOpt,
        exchange_rate: RateOpt = None,
        scenario: ScenarioOpt = "pakistan-2025",
        valid_until: ValidUntilOpt = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Sign a contract for every site allocated power at --valid-from, on its allocation's terms.

        Tariff, tranches and curtailment terms come from the allocation in force (the planner's
        allocation.csv as imported); sites with a contract then are left as they are.
        """
        from offtake.identity.principal import SYSTEM
        from offtake.registry.allocations import list_allocations
        from offtake.registry.contracts import contract_in_force, create_contract
        from offtake.timeutil import parse_utc

        start = parse_utc(valid_from, field="--valid-from")
        end = parse_utc(valid_until, field="--valid-until") if valid_until else None
        rate, source = _rate(exchange_rate, scenario)
        signed: list[str] = []
        with admin_session(database_url, data_dir) as session:
            in_force = {}
            for row in list_allocations(session, SYSTEM):  # newest first
                if row.valid_from <= start and row.site_id not in in_force:
                    in_force[row.site_id] = row
            for site_id, row in sorted(in_force.items()):
                if row.allocated_w <= 0 or contract_in_force(session, site_id, start) is not None:
                    continue
                contract = create_contract(
                    session,
                    SYSTEM,
                    site_id=site_id,
                    valid_from=start,
                    valid_until=end,
                    tariff_usd_per_mwh=f"{row.tariff_micro_usd_per_mwh / MICRO_USD_PER_USD:.6f}",
                    firm_mw=row.firm_w / W_PER_MW,
                    interruptible_mw=row.interruptible_w / W_PER_MW,
                    max_curtailment_fraction=row.max_curtailment_fraction,
                    max_curtailment_duration_h=row.max_curtailment_duration_h,
                    annual_curtailment_limit=row.annual_curtailment_limit,
                    response_time_s=row.response_time_s,
                    overdraw_tolerance_fraction=overdraw_tolerance,
                    overdraw_penalty_usd_per_mwh=overdraw_penalty,
                    exchange_rate_pkr_per_usd=rate,
                )
                signed.append(f"  contract {contract.id} for {site_id}: {row.allocated_w / W_PER_MW:,.1f} MW")
        typer.echo(f"signed {len(signed)} contracts from {display_time(start)}; bills at {rate} PKR/USD ({source})")
        for line in signed:
            typer.echo(line)

    @group.command("list")
    def list_cmd(
        site: Annotated[str | None, typer.Option("--site", help="Only this site's contracts.")] = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """List contracts: id, site, from, until, tariff [USD/MWh], firm + interruptible [MW], PKR/USD."""
        from offtake.identity.principal import SYSTEM
        from offtake.registry.contracts import list_contracts

        with admin_session(database_url, data_dir, write=False) as session:
            for c in list_contracts(session, SYSTEM, site_id=site):
                until = c.valid_until.isoformat() if c.valid_until else "open"
                typer.echo(
                    f"{c.id}\t{c.site_id}\t{c.valid_from.isoformat()}\t{until}\t"
                    f"{c.tariff_micro_usd_per_mwh / MICRO_USD_PER_USD:g}\t"
                    f"{c.firm_w / W_PER_MW:g}+{c.interruptible_w / W_PER_MW:g}\t"
                    f"{c.exchange_rate_micro_pkr_per_usd / MICRO_USD_PER_USD:g}"
                )

    registry.add_typer(group, name="contract")
