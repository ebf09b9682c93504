"""The server checks its ledger against the checkpoint log when it starts and before it signs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from platform_fixtures import T0, World
from sqlalchemy import text

from offtake.api.app import create_app
from offtake.ledger import MeterReading, ingest_readings
from offtake.ledger.signing import Signer
from offtake.ledger.store import make_checkpoint
from offtake.ledger.witness import CheckpointLog, LedgerForkError
from offtake.persistence.db import session_scope
from offtake.settings import Settings

H = timedelta(hours=1)


def start_and_stop(settings: Settings, signer: Signer) -> None:
    app = create_app(settings, signer=signer)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(run())


def test_a_server_does_not_start_on_a_rolled_back_ledger(world: World, db_url: str, tmp_path: Path) -> None:
    settings = Settings.resolve(env={}, data_dir=str(tmp_path), database_url=db_url)
    signer = Signer.generate()
    start_and_stop(settings, signer)  # a consistent ledger starts (and signs its 10 entries on the way out)
    assert signer.witness is not None and signer.witness.path == tmp_path / "ledger-checkpoints.log"
    with session_scope(world.factory) as s:
        ingest_readings(s, world.grid, [MeterReading("S1", "m1", T0 + i * H, T0 + (i + 1) * H, 5) for i in range(3)])
    with session_scope(world.factory) as s:
        signed = make_checkpoint(s, signer)
    assert signed is not None and CheckpointLog(signer.witness.path).last() is not None
    with session_scope(world.factory) as s:  # a backup from before the last reading is restored
        s.execute(text(f"delete from ledger_entry where seq = {signed.size - 1}"))
        s.execute(text(f"update ledger_head set size = {signed.size - 1}"))
    with pytest.raises(LedgerForkError, match=r"ledger-checkpoints.log:2\) covers.*rolled back"):
        start_and_stop(settings, Signer.generate())
