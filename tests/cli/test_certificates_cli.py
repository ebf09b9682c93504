"""``offtake certificates`` and ``offtake ledger verify-certificates`` end to end on a SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from platform_fixtures import T0, build_world
from typer.testing import CliRunner

from offtake.cli import _register, app
from offtake.errors import OfftakeError
from offtake.ledger import MeterReading, ingest_readings
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.registry.setup import prepare_database

H = timedelta(hours=1)


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    _register()
    return CliRunner()


def run(cli: CliRunner, *args: str) -> tuple[int, str]:
    """Exit status and output; an offtake error (which ``main`` prints on one line) as status 2 and its text."""
    result = cli.invoke(app, list(args))
    if isinstance(result.exception, OfftakeError):
        return 2, str(result.exception)
    return result.exit_code, result.output


def test_issue_transfer_retire_list_and_verify_offline(cli: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = make_engine(f"sqlite:///{data / 'offtake.db'}")
    try:
        prepare_database(engine)
        world = build_world(make_session_factory(engine))
        with session_scope(world.factory) as s:
            readings = [MeterReading("S1", "m1", T0 + i * H, T0 + (i + 1) * H, 2_000_000) for i in range(3)]
            ingest_readings(s, world.grid, readings, now=T0 + timedelta(days=1))
    finally:
        engine.dispose()
    shares = tmp_path / "shares.csv"
    rows = [f"LESCO,{(T0 + i * H).isoformat().replace('+00:00', 'Z')},solar_pv,500000" for i in range(3)]
    shares.write_text("zone,hour_start,technology,share_ppm\n" + "\n".join(rows) + "\n")
    d = ["--data-dir", str(data)]
    code, out = run(cli, "certificates", "issue", "S1", "2025-07", "--shares", str(shares), *d)
    assert code == 0 and "3 certificates, 3.000 MWh of 6.000 MWh metered in 3 readings" in out, out
    code, out = run(cli, "certificates", "issue", "S1", "2025-07", "--shares", str(shares), *d)
    assert code == 2 and "double issuance" in out
    code, out = run(cli, "certificates", "holdings", "--holder", "op1", *d)
    ids = [line.split(",")[0] for line in out.splitlines()[1:] if line.startswith("GC-")]
    assert code == 0 and len(ids) == 3 and all(",op1,S1,LESCO," in line for line in out.splitlines()[1:4]), out
    assert run(cli, "certificates", "transfer", ids[0], "400000", "--from", "op1", "--to", "op2", *d)[0] == 0
    retire = ["certificates", "retire", ids[0], "400000", "--holder", "op2", "--beneficiary", "B", "--claim", "C"]
    assert run(cli, *retire, *d)[0] == 0
    code, out = run(cli, *retire, *d)
    assert code == 2 and f"certificate {ids[0]}: 'op2' retires 400000 Wh but holds 0 Wh" in out, out

    export, key = tmp_path / "ledger.txt", tmp_path / "key.pem"
    assert run(cli, "ledger", "export", str(export), *d)[0] == 0
    assert run(cli, "ledger", "public-key", "--out", str(key), *d)[0] == 0
    code, out = run(
        cli, "ledger", "verify-certificates", str(export), "--public-key", str(key), "--shares", str(shares)
    )
    assert code == 0 and "3 certificates, 3000000 Wh issued, 1 transfers, 400000 Wh retired" in out, out
    other = tmp_path / "other-shares.csv"
    other.write_text(shares.read_text().replace("solar_pv,500000", "solar_pv,400000", 1))
    code, out = run(cli, "ledger", "verify-certificates", str(export), "--public-key", str(key), "--shares", str(other))
    assert code == 1 and "share 500000 ppm of solar_pv in zone 'LESCO'" in out and "say 400000 ppm" in out, out

    lines = export.read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if '"kind":"cert_retire"' in line)
    lines[i] = lines[i].replace('"volume_wh":400000', '"volume_wh":900000')
    export.write_text("".join(lines))
    code, out = run(cli, "ledger", "verify-certificates", str(export), "--public-key", str(key))
    assert code == 1 and "over-claim" in out and "retires 900000 Wh but holds 400000 Wh" in out, out
    assert "altered" in out  # and the ledger check names the edited entry


def test_issue_needs_one_share_source(cli: CliRunner, tmp_path: Path) -> None:
    code, out = run(cli, "certificates", "issue", "S1", "2025-07", "--data-dir", str(tmp_path))
    assert code == 2 and "--shares FILE or --scenario NAME" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("zone,hour_start,technology,share_ppm\nLESCO,2025-07-01T00:30:00Z,wind,5\n")
    code, out = run(cli, "certificates", "issue", "S1", "2025-07", "--shares", str(bad), "--data-dir", str(tmp_path))
    assert code == 2 and f"{bad}:2" in out and "hour_start" in out
