"""The regulator's and control room's commands: licences, sites, contracts, readings, bills, proofs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offtake.cli import _register, app

HEADER = (
    "site_id,operator,zone,kind,firm_mw,interruptible_mw,allocated_mw,max_curtailment_fraction,"
    "max_curtailment_duration_h,annual_curtailment_limit,response_time_s,tariff_usd_per_mwh,"
    "expected_energy_mwh,curtailed_hours,curtailment_events,mean_event_h"
)


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    _register()
    return CliRunner()


def run(cli: CliRunner, data: Path, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, [*args, "--data-dir", str(data)])
    return result.exit_code, result.output + (str(result.exception) if result.exception else "")


def ok(cli: CliRunner, data: Path, *args: str) -> str:
    code, out = run(cli, data, *args)
    assert code == 0, out
    return out


def test_licence_lifecycle_with_the_regulators_limits(cli: CliRunner, tmp_path: Path) -> None:
    ok(cli, tmp_path, "registry", "add-operator", "op1", "Operator One")
    assert "applied" in ok(cli, tmp_path, "registry", "licence", "apply", "op1", "--kind", "mining", "--id", "L1")
    code, out = run(cli, tmp_path, "registry", "licence", "activate", "L1")
    assert code != 0 and "cannot become active" in out
    out = ok(cli, tmp_path, "registry", "licence", "approve", "L1", "--max-mw", "40", "--max-energy-mwh", "9000")
    assert "approved" in out and "max_mw 40" in out
    ok(cli, tmp_path, "registry", "licence", "activate", "L1")
    listed = ok(cli, tmp_path, "registry", "licence", "list")
    assert "L1\top1\tmining\tactive\tmax_energy_mwh=9000.0,max_mw=40.0" in listed
    assert "suspended" in ok(cli, tmp_path, "registry", "licence", "suspend", "L1", "--reason", "audit")
    ok(cli, tmp_path, "registry", "licence", "activate", "L1")
    assert "revoked" in ok(cli, tmp_path, "registry", "licence", "revoke", "L1", "--reason", "breach")
    code, out = run(cli, tmp_path, "registry", "licence", "activate", "L1")
    assert code != 0 and "revoked" in out
    code, out = run(cli, tmp_path, "registry", "licence", "approve", "ghost")
    assert code != 0 and "ghost" in out
    code, out = run(cli, tmp_path, "registry", "licence", "apply", "op1", "--kind", "teleport")
    assert code != 0 and "teleport" in out
    assert "mining" in ok(cli, tmp_path, "registry", "licence", "kinds")


def test_sites_contracts_readings_bill_and_proof(cli: CliRunner, tmp_path: Path) -> None:
    ok(cli, tmp_path, "registry", "add-operator", "op1", "Operator One")
    ok(cli, tmp_path, "registry", "licence", "apply", "op1", "--kind", "ai_data_centre", "--id", "LAI",
       "--at", "2025-06-01T00:00:00+05:00")
    ok(cli, tmp_path, "registry", "licence", "approve", "LAI", "--at", "2025-06-02T00:00:00+05:00")
    ok(cli, tmp_path, "registry", "licence", "activate", "LAI", "--at", "2025-06-03T00:00:00+05:00")
    allocation = tmp_path / "allocation.csv"
    allocation.write_text(
        HEADER
        + "\nS1,op1,LESCO,mining,10,30,40,1,6,0.1,60,70,300000,200,40,5"
        + "\nD1,op1,IESCO,ai,10,0,10,0.3,4,0.02,300,90,80000,0,0,0\n"
    )
    out = ok(cli, tmp_path, "registry", "import-allocation", str(allocation), "--valid-from", "2025-07-01T00:00:00Z")
    assert "new site S1" in out and "new site D1" in out
    code, out = run(cli, tmp_path, "registry", "attach-licence", "S1", "LAI")
    assert code != 0 and "does not cover mining" in out
    ok(cli, tmp_path, "registry", "attach-licence", "D1", "LAI")
    assert "D1\top1\tIESCO\tai\tLAI" in ok(cli, tmp_path, "registry", "sites")
    ok(cli, tmp_path, "registry", "add-site", "D2", "--operator", "op1", "--zone", "IESCO", "--kind", "ai")
    out = ok(
        cli, tmp_path, "registry", "contract", "from-allocation", "--valid-from", "2025-07-01T00:00:00Z",
        "--overdraw-tolerance", "0.02", "--overdraw-penalty", "50", "--exchange-rate", "281.5",
    )
    assert "signed 2 contracts" in out and "for D1" in out and "281.5 PKR/USD (given)" in out
    out = ok(cli, tmp_path, "registry", "contract", "from-allocation", "--valid-from", "2025-07-01T00:00:00Z",
             "--overdraw-tolerance", "0.02", "--overdraw-penalty", "50")
    assert "signed 0 contracts" in out and "(scenario pakistan-2025)" in out  # each site has one already
    readings = tmp_path / "readings.csv"
    readings.write_text(
        "site_id,meter_id,interval_start,interval_end,energy_wh\n"
        "D1,m1,2025-07-02T00:00:00Z,2025-07-02T01:00:00Z,9000000\n"
    )
    assert "entry" in ok(cli, tmp_path, "ledger", "add-readings", str(readings))
    out = ok(cli, tmp_path, "registry", "bill", "D1", "2025-07")
    assert "PKR 228,015.00" in out and "281.5000 PKR/USD (contract" in out  # 9 MWh x 90 USD/MWh x 281.5
    bad = tmp_path / "bad.csv"
    bad.write_text("site_id,meter_id,interval_start,interval_end,energy_wh\nD1,m1,2025-07-02T01:00:00Z,"
                   "2025-07-02T02:00:00Z,lots\n")
    code, out = run(cli, tmp_path, "ledger", "add-readings", str(bad))
    assert (code != 0 and "bad.csv" in str(out)) or "energy_wh" in out
    proof = tmp_path / "proof.json"
    key = tmp_path / "key.pem"
    ok(cli, tmp_path, "ledger", "public-key", "--out", str(key))
    ok(cli, tmp_path, "ledger", "prove", "--last", "--out", str(proof))
    result = cli.invoke(app, ["ledger", "check-proof", str(proof), "--public-key", str(key)])
    assert result.exit_code == 0 and "OK: entry" in result.output, result.output
    doc = json.loads(proof.read_text())
    doc["entry"] = doc["entry"].replace("9000000", "9000001")
    proof.write_text(json.dumps(doc))
    result = cli.invoke(app, ["ledger", "check-proof", str(proof), "--public-key", str(key)])
    assert result.exit_code == 1 and "do not hash" in result.output
    code, out = run(cli, tmp_path, "ledger", "prove", "99999")
    assert code != 0 and "99999" in out


def test_a_bill_without_a_contract_is_stated_in_pkr_at_the_scenarios_rate(cli: CliRunner, tmp_path: Path) -> None:
    ok(cli, tmp_path, "registry", "add-operator", "op1", "Operator One")
    allocation = tmp_path / "allocation.csv"
    allocation.write_text(HEADER + "\nS1,op1,LESCO,mining,10,30,40,1,6,0.1,60,70,300000,200,40,5\n")
    ok(cli, tmp_path, "registry", "import-allocation", str(allocation), "--valid-from", "2025-07-01T00:00:00Z")
    at = ("--at", "2025-06-01T00:00:00Z")
    ok(cli, tmp_path, "registry", "licence", "apply", "op1", "--kind", "mining", "--id", "L1", *at)
    ok(cli, tmp_path, "registry", "licence", "approve", "L1", *at)
    ok(cli, tmp_path, "registry", "licence", "activate", "L1", *at)
    ok(cli, tmp_path, "registry", "attach-licence", "S1", "L1")  # energy without a licence is not billed
    readings = tmp_path / "readings.csv"
    readings.write_text(
        "site_id,meter_id,interval_start,interval_end,energy_wh\nS1,m1,2025-07-02T00:00:00Z,2025-07-02T01:00:00Z,1000000\n"
    )
    ok(cli, tmp_path, "ledger", "add-readings", str(readings))
    out = ok(cli, tmp_path, "registry", "bill", "S1", "2025-07")
    assert "PKR None" not in out and "PKR 19,600.00" in out  # 1 MWh x 70 USD x 280 PKR/USD
    assert "scenario pakistan-2025" in out
