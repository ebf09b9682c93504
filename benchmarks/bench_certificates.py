"""Certificates: issuing a month of 5-minute readings, moving Wh, verifying an export offline.

No target is named for certificates; this measures where the time goes as the book grows.
State lives only in the ledger: a write replays the certificate entries added since the
last replay this process kept (checked against the ledger's Merkle root), not all of them.

Measured (SQLite file, 4 sites x one month of 5-minute readings = 35,712 readings, shares of
three renewable technologies in every hour, the project's shared 2-core machine):
issue 0.9-1.1 s per site-month (8,928 readings, 744 hours, 2,232 certificates); a transfer or
retirement with 8,928 certificates in the book 0.03 s (0.48 s when every write replayed the
whole book); offline ``verify_certificates`` of the 35,748-entry export 2.3 s (Merkle check
included).

Run: ``PYTHONPATH=src python benchmarks/bench_certificates.py [--sites 4] [--moves 20]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from offtake.certificates import (
    ShareTable,
    issue_certificates,
    retire_certificate,
    transfer_certificate,
    verify_certificates,
)
from offtake.identity.principal import SYSTEM
from offtake.ledger import MeterReading, ingest_readings
from offtake.ledger.export import export_ledger
from offtake.ledger.signing import Signer
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.registry import licences, sites
from offtake.registry.setup import prepare_database

T0 = datetime(2025, 7, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)
MONTH = timedelta(days=31)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--moves", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        prepare_database(engine)
        factory = make_session_factory(engine)
        with session_scope(factory) as s:
            for op in ("op1", "op2"):
                sites.create_operator(s, SYSTEM, op, op)
                licences.apply_for_licence(s, SYSTEM, operator_id=op, kind_id="mining", licence_id=f"L-{op}", at=T0)
                licences.transition_licence(s, SYSTEM, f"L-{op}", "approved", at=T0)
                licences.transition_licence(s, SYSTEM, f"L-{op}", "active", at=T0)
            for i in range(args.sites):
                sites.create_site(
                    s, SYSTEM, site_id=f"S{i}", operator_id="op1", zone="LESCO", kind="mining",
                    licence_id="L-op1", connection_mw=100,
                )  # fmt: skip
        steps = int(MONTH / STEP)
        now = T0 + MONTH + timedelta(days=1)
        for i in range(args.sites):
            with session_scope(factory) as s:
                batch = [
                    MeterReading(f"S{i}", "m1", T0 + k * STEP, T0 + (k + 1) * STEP, 4_000_000 + k) for k in range(steps)
                ]
                ingest_readings(s, SYSTEM, batch, now=now)
        hours = {
            ("LESCO", T0 + timedelta(hours=h)): {"hydro": 400_000, "solar_pv": 50_000, "wind": 30_000}
            for h in range(744)
        }
        shares = ShareTable(hours, "benchmark")
        ids: list[str] = []
        for i in range(args.sites):
            started = time.perf_counter()
            with session_scope(factory) as s:
                issued = issue_certificates(s, SYSTEM, f"S{i}", T0, T0 + MONTH, shares, now=now)
            ids.extend(c.id for c in issued.certificates)
            print(f"issue S{i}: {len(issued.certificates)} certificates in {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        for k in range(args.moves):
            with session_scope(factory) as s:
                if k % 2:
                    retire_certificate(s, SYSTEM, ids[k], "op1", 1000, beneficiary="b", claim="c", now=now)
                else:
                    transfer_certificate(s, SYSTEM, ids[k], "op1", "op2", 1000, now=now)
        per_move = (time.perf_counter() - started) / max(args.moves, 1)
        print(f"transfer/retire with {len(ids)} certificates in the book: {per_move:.3f} s each")
        signer = Signer.generate()
        path = Path(folder) / "ledger.txt"
        with factory() as s:
            export_ledger(s, path, signer)
        started = time.perf_counter()
        report = verify_certificates(path, signer.public_key)
        elapsed = time.perf_counter() - started
        print(
            f"verify-certificates: {report.ledger.entries} entries, "
            f"{report.certificates} certificates in {elapsed:.2f} s"
        )
        assert report.ok, [str(f) for f in report.findings]
        engine.dispose()


if __name__ == "__main__":
    main()
