"""``offtake ledger``: the checkpoint log, verify with known checkpoints, and verify-bill."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from platform_fixtures import T0, build_world
from typer.testing import CliRunner

from offtake.billing.bills import monthly_bill
from offtake.cli import _register, app
from offtake.ledger import MeterReading, ingest_readings
from offtake.ledger.witness import LedgerForkError
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.registry.setup import prepare_database

H = timedelta(hours=1)


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    _register()
    return CliRunner()


def run(cli: CliRunner, *args: str) -> tuple[int, str, BaseException | None]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.output, result.exception


def test_checkpoints_are_witnessed_and_verified_and_a_bill_checks_offline(cli: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = make_engine(f"sqlite:///{data / 'offtake.db'}")
    try:
        prepare_database(engine)
        world = build_world(make_session_factory(engine))
        with session_scope(world.factory) as s:
            ingest_readings(
                s, world.grid, [MeterReading("S1", "m1", T0 + i * H, T0 + (i + 1) * H, 1000 + i) for i in range(6)]
            )
        code, out, _ = run(cli, "ledger", "checkpoint", "--data-dir", str(data))
        assert code == 0 and out.startswith("checkpoint size 16")
        log = data / "ledger-checkpoints.log"
        assert stat.S_IMODE(log.stat().st_mode) == 0o600 and len(log.read_text().splitlines()) == 1
        export, key = tmp_path / "ledger.txt", tmp_path / "key.pem"
        assert run(cli, "ledger", "export", str(export), "--data-dir", str(data))[0] == 0
        assert run(cli, "ledger", "public-key", "--out", str(key), "--data-dir", str(data))[0] == 0
        code, out, _ = run(
            cli, "ledger", "verify", str(export), "--public-key", str(key), "--known-checkpoint", str(log)
        )
        assert code == 0 and out.startswith("OK: 16 entries"), out

        with world.factory() as s:
            bill = monthly_bill(s, world.regulator, "S1", "2025-07").as_dict()
        bill_file = tmp_path / "bill.json"
        bill_file.write_text(json.dumps(bill))
        args = ["ledger", "verify-bill", str(bill_file), "--export", str(export), "--public-key", str(key)]
        code, out, _ = run(cli, *args)
        assert code == 0 and out.startswith("OK: 6 readings, 6015 Wh"), out
        bill_file.write_text(json.dumps(dict(bill, unbilled_wh=bill["unbilled_wh"] + 1)))
        code, out, _ = run(cli, *args)
        assert code == 1 and "the readings hold 6015 Wh; the bill accounts for 6016 Wh" in out

        # a regulator's checkpoint that the export does not reach: rolled back
        known = json.loads(log.read_text())
        later = dict(known, size=known["size"] + 5)
        code, out, _ = run(
            cli, "ledger", "verify", str(export), "--public-key", str(key), "--known-checkpoint", json.dumps(later)
        )
        assert code == 1 and "not signed by the given key" in out  # a forged checkpoint is no evidence

        # the database loses its last entry: the log refuses a new checkpoint
        with engine.begin() as connection:
            from sqlalchemy import text

            connection.execute(text("delete from ledger_entry where seq = 15"))
            connection.execute(text("update ledger_head set size = 15"))
        code, _out, error = run(cli, "ledger", "checkpoint", "--data-dir", str(data))
        assert code != 0 and isinstance(error, LedgerForkError) and "ledger-checkpoints.log:1" in str(error)
    finally:
        engine.dispose()
