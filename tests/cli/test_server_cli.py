"""The server's CLI commands through typer's CliRunner, on a SQLite file."""

from __future__ import annotations

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


def invoke(cli: CliRunner, data: Path | None, *args: str) -> tuple[int, str]:
    """Run ``offtake ARGS`` (with ``--data-dir DATA`` unless ``data`` is None)."""
    extra = [] if data is None else ["--data-dir", str(data)]
    result = cli.invoke(app, [*args, *extra])
    return result.exit_code, result.output


def test_client_add_prints_credentials_that_work(cli: CliRunner, tmp_path: Path) -> None:
    code, out = invoke(cli, tmp_path, "registry", "add-operator", "op1", "Operator One")
    assert code == 0, out
    code, out = invoke(cli, tmp_path, "client", "add", "op1 staff", "--role", "operator", "--operator", "op1")
    assert code == 0, out
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert lines["client_id"].startswith("cl_") and len(lines["client_secret"]) >= 40
    from offtake.identity.credentials import authenticate_client
    from offtake.persistence.db import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'offtake.db'}")
    with make_session_factory(engine)() as s:
        client = authenticate_client(s, lines["client_id"], lines["client_secret"])
        assert client.role == "operator" and client.operator_id == "op1"
        assert lines["client_secret"] not in client.secret_hash
    engine.dispose()
    code, out = invoke(cli, tmp_path, "client", "add", "x", "--role", "operator", "--operator", "ghost")
    assert code != 0
    code, out = invoke(cli, tmp_path, "client", "add", "x", "--role", "emperor")
    assert code != 0


def test_import_bill_export_and_verify(cli: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert invoke(cli, data, "registry", "add-operator", "op1", "Operator One")[0] == 0
    allocation = tmp_path / "allocation.csv"
    allocation.write_text(HEADER + "\nS1,op1,LESCO,mining,10,30,40,1,6,0.1,60,70,300000,200,40,5\n")
    code, out = invoke(
        cli,
        data,
        "registry",
        "import-allocation",
        str(allocation),
        "--valid-from",
        "2025-07-01T00:00:00+05:00",
    )
    assert code == 0 and "imported 1 allocations (40.0 MW)" in out
    code, out = invoke(cli, data, "registry", "bill", "S1", "2025-07")
    assert code == 0 and "total   USD 0.000000" in out
    export = tmp_path / "ledger.txt"
    code, out = invoke(cli, data, "ledger", "export", str(export), "--checkpoint-every", "2")
    assert code == 0 and "exported 3 entries" in out
    key = tmp_path / "key.pem"
    assert invoke(cli, data, "ledger", "public-key", "--out", str(key))[0] == 0
    code, out = invoke(cli, None, "ledger", "verify", str(export), "--public-key", str(key))
    assert code == 0 and out.startswith("OK: 3 entries")
    export.write_text(export.read_text().replace('"name":"Operator One"', '"name":"Operator 0ne"'))
    code, out = invoke(cli, None, "ledger", "verify", str(export), "--public-key", str(key))
    assert code == 1
    assert f"{export}: line 2, entry 0: altered: entry bytes do not match" in out


def test_a_disabled_client_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    code, out = invoke(cli, tmp_path, "client", "add", "desk", "--role", "regulator")
    client_id = out.split()[1]
    from offtake.errors import OfftakeError
    from offtake.identity.credentials import authenticate_client
    from offtake.persistence.db import make_engine, make_session_factory

    code, out = invoke(cli, tmp_path, "client", "list")
    assert code == 0 and f"{client_id}\tregulator\t-\tactive\tdesk" in out
    assert invoke(cli, tmp_path, "client", "disable", client_id)[0] == 0
    assert f"{client_id}\tregulator\t-\tdisabled" in invoke(cli, tmp_path, "client", "list")[1]
    engine = make_engine(f"sqlite:///{tmp_path / 'offtake.db'}")
    with make_session_factory(engine)() as s, pytest.raises(OfftakeError):
        authenticate_client(s, client_id, "whatever")
    engine.dispose()


@pytest.mark.parametrize("workers", ["0", "65", "two"])
def test_serve_refuses_a_bad_number_of_workers_naming_the_option(
    cli: CliRunner, tmp_path: Path, workers: str
) -> None:
    code, out = invoke(cli, tmp_path, "serve", "--workers", workers)
    assert code == 2 and "--workers" in out
