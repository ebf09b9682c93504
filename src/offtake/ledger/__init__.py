"""The metering ledger: readings, caps and registry changes in an append-only Merkle log.

Entry points
------------
- :func:`ingest_readings` — the one path for meter readings (REST and OpenADR reports).
- :func:`record_caps` — store the caps the dispatch core sends.
- :mod:`offtake.ledger.store` — tree heads, inclusion and consistency proofs, checkpoints.
- :mod:`offtake.ledger.export` — export to a file and verify it offline.
- :mod:`offtake.ledger.merkle` — RFC 6962 hashing and proof verification.
- :mod:`offtake.ledger.encoding` — the canonical leaf encoding.
"""

from __future__ import annotations

from offtake.ledger.caps import CapRecord, CapsResult, caps_between, record_caps
from offtake.ledger.ingest import (
    IngestResult,
    ItemResult,
    MeterReading,
    Problem,
    ReadingsConflict,
    ReadingsRejected,
    ingest_many,
    ingest_readings,
)

__all__ = [
    "CapRecord",
    "CapsResult",
    "IngestResult",
    "ItemResult",
    "MeterReading",
    "Problem",
    "ReadingsConflict",
    "ReadingsRejected",
    "caps_between",
    "ingest_many",
    "ingest_readings",
    "record_caps",
]
