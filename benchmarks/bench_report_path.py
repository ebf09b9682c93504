"""Cost of one OpenADR USAGE report on the server's write path, and time under the ledger lock.

Posts ``--reports`` reports from ``--sites`` VEN clients through the VTN's write path as the
server runs it (the route's work before the group commit, then :class:`GroupCommit` with the
writer lock), ``--concurrency`` at a time so the group commit batches them as under load. No
HTTP: this isolates what a report costs the application. It prints the process CPU per report
[ms] (every thread), the time the ledger/writer lock was held per report and per transaction
[ms], the writes per transaction, and checks that every report's reading is in the ledger.
With ``--profile`` it prints the top functions by cumulative time of the writer thread.

Measured on the shared 2-core development machine while other engineers' suites ran (load
average 9.4-10.5 on 2 cores, so both figures are pessimistic), SQLite, the defaults
(``--sites 100 --reports 2000 --concurrency 16``), one run after the other, all 2,000 readings
in the ledger each time:

=====================================  ==============  ====================  ==============  ========
                                       CPU per report  lock held per report  writes per txn  reports/s
=====================================  ==============  ====================  ==============  ========
before (main at b84de06)               5.8 ms          29.9 ms               8.0             33
after (branch ``ingest``)              3.7 ms          12.1 ms               7.9             81
=====================================  ==============  ====================  ==============  ========

The lock is held longer than the CPU a report costs because the writer thread shares two
cores with ten other runnable processes and each transaction waits for its fsync. Of the
writer's time per report before (profiled, 1,000 reports): 4.4 ms opening the ledger appender
(the Merkle frontier read again for every report), 2.7 ms validating the report and looking
up its event, 1.5 ms reading allocations and contracts of sites that have a connection
capacity (which bounds them alone), 0.8 ms a second lookup of the report's key, then the
checks against the ledger and the inserts. After: the frontier is read once per transaction,
validation, the event and the readings are done in the request's thread before the write, and
the writer's time is the lookups that must see the settled ledger (report key, stored
readings, site), the inserts and the webhook match.

Reports of a batch written together (one lookup of stored reports, one insert, the ledger
locked once for all of them): main at 9d3a909 ("before") against it, back to back, the defaults,
the machine otherwise idle, all 2,000 readings in the ledger each time (PostgreSQL 15 on the
same machine, a fresh database each run)::

    PYTHONPATH=src python benchmarks/bench_report_path.py
    PYTHONPATH=src python benchmarks/bench_report_path.py --database-url postgresql+psycopg://USER@127.0.0.1/EMPTY_DB

=====================================  ==============  ====================  ==============  ========
                                       CPU per report  lock held per report  writes per txn  reports/s
=====================================  ==============  ====================  ==============  ========
SQLite, before                         1.95 ms         1.79 ms               8.0             551
SQLite, after                          1.29 ms         1.12 ms               7.9             859
PostgreSQL, before                     3.06 ms         4.65 ms               8.0             212
PostgreSQL, after                      1.83 ms         2.02 ms               7.9             491
=====================================  ==============  ====================  ==============  ========

(The lock timed here is the writer's transaction: on PostgreSQL the ledger's head row is held
for its part after the lookups and the insert.)

Usage::

    PYTHONPATH=src python benchmarks/bench_report_path.py
    PYTHONPATH=src python benchmarks/bench_report_path.py --profile
    PYTHONPATH=src python benchmarks/bench_report_path.py --database-url postgresql+psycopg://USER@127.0.0.1/EMPTY_DB
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_vtn import REPORT_POWER_W, _settings, _setup


class TimedLock:
    """The writer lock, timing how long each holder keeps it [s]."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.held_s: list[float] = []

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self.inner():
            started = time.perf_counter()
            try:
                yield
            finally:
                self.held_s.append(time.perf_counter() - started)


def _report(site: str, event_id: str, start: Any, energy_wh: int) -> dict[str, Any]:
    return {
        "eventID": event_id,
        "clientName": site,
        "payloadDescriptors": [{"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE", "units": "WH"}],
        "resources": [
            {
                "resourceName": site,
                "intervalPeriod": {"start": start.isoformat(), "duration": "PT10S"},
                "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [energy_wh]}]}],
            }
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", action="store_true", help="profile the writer thread")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from offtake.api.routes.openadr import submit_report
    from offtake.identity.credentials import issue_token, principal_from_token
    from offtake.persistence.db import writer_lock
    from offtake.persistence.group_commit import GroupCommit
    from offtake.persistence.schema import LedgerEntry, VtnObject
    from offtake.vtn.service import Caller

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        data_dir = Path(tmp)
        print(f"provisioning {args.sites} sites", file=sys.stderr)
        creds, hour = _setup(data_dir, args.sites, args.database_url)
        from offtake.api.app import create_app

        app = create_app(_settings(data_dir, args.database_url))
        factory = app.state.session_factory
        secret = app.state.settings.load_token_secret()
        callers: list[tuple[str, Caller, str]] = []
        with factory() as session:
            for site, client_id, client_secret in creds:
                token = issue_token(session, secret, client_id, client_secret).access_token
                principal = principal_from_token(session, secret, token)
                caller = Caller(principal.client_id, principal.scopes, principal.site_id, principal)
                event = session.scalars(
                    select(VtnObject).where(VtnObject.object_type == "EVENT", VtnObject.name.like(f"%{site}%"))
                ).first()
                if event is None:
                    event = next(
                        o
                        for o in session.scalars(select(VtnObject).where(VtnObject.object_type == "EVENT"))
                        if f"VEN_NAME:{site}" in (o.body.get("targets") or [])
                    )
                callers.append((site, caller, event.id))
            ledger_before = session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
        engine = factory.kw["bind"]
        timed = TimedLock(lambda: writer_lock(engine))
        committer = GroupCommit(factory, timed)
        profiler = cProfile.Profile()
        if args.profile:
            committer.submit(lambda s: profiler.enable()).future.result()
        energy_wh = round(REPORT_POWER_W * 10 / 3600)
        first = hour - timedelta(days=1)

        def one(k: int) -> None:
            site, caller, event_id = callers[k % len(callers)]
            body = _report(site, event_id, first + timedelta(seconds=10 * (k // len(callers))), energy_wh)
            submit_report(committer, factory(), caller, body).future.result()

        cpu0, wall0 = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(one, range(args.reports)))
        cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
        if args.profile:
            committer.submit(lambda s: profiler.disable()).future.result()
        committer.close()
        with factory() as session:
            added = (session.scalar(select(func.count()).select_from(LedgerEntry)) or 0) - ledger_before
        held = timed.held_s[2 if args.profile else 0 :]
        n = args.reports
        print(f"{n} reports in {wall_s:.2f} s ({n / wall_s:.0f}/s), {engine.dialect.name}")
        print(f"process CPU per report: {1000 * cpu_s / n:.2f} ms (all threads)")
        per_txn_ms = 1000 * sum(held) / len(held)
        print(f"lock held per report: {1000 * sum(held) / n:.2f} ms; per transaction: {per_txn_ms:.1f} ms")
        print(f"transactions: {len(held)} ({n / len(held):.1f} writes each)")
        print(f"readings added to the ledger: {added} of {n}")
        if args.profile:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats("offtake", 45)
            print(out.getvalue())
        return 0 if added == n else 1


if __name__ == "__main__":
    sys.exit(main())
