"""The ledger over HTTP: tree head, entries, inclusion and consistency proofs, checkpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from offtake.api.auth import require
from offtake.api.body import StrictJsonRoute
from offtake.api.deps import DbSession, commit, get_signer
from offtake.api.schemas import (
    INT64_MAX,
    PROBLEM_RESPONSES,
    CheckpointList,
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    Index,
    LedgerEntryList,
    LedgerEntryOut,
    LedgerHead,
    PublicKeyOut,
)
from offtake.errors import NotVisibleError
from offtake.identity.principal import Principal
from offtake.ledger import store
from offtake.ledger.encoding import decode_entry
from offtake.ledger.signing import Signer
from offtake.persistence.schema import LedgerEntry

__all__ = ["router"]

router = APIRouter(
    prefix="/ledger",
    tags=["ledger"],
    route_class=StrictJsonRoute,
    responses=PROBLEM_RESPONSES,
)

Reader = Annotated[Principal, Depends(require("ledger:read"))]


def _entry_out(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "leaf_hash": entry.leaf_hash.hex(),
        "data": entry.data.decode("ascii"),
        "entry": decode_entry(entry.data),
    }


def _check_entry(who: Principal, entry: LedgerEntry) -> None:
    if who.is_operator_bound and entry.operator_id != who.operator_id:
        raise NotVisibleError(f"ledger entry {entry.seq}")


@router.get("/head", response_model=LedgerHead, summary="Ledger size, root and latest checkpoint")
def read_head(session: DbSession, who: Reader) -> dict[str, Any]:
    """Return the current tree head (unsigned) and the latest signed checkpoint."""
    head = store.tree_head(session)
    latest = store.latest_checkpoint(session)
    return {
        "size": head.size,
        "root": head.root.hex(),
        "latest_checkpoint": None if latest is None else latest.as_dict(),
    }


@router.get("/public-key", response_model=PublicKeyOut, summary="Checkpoint signing key")
def read_public_key(who: Reader, signer: Annotated[Signer, Depends(get_signer)]) -> dict[str, Any]:
    """Return the Ed25519 public key verifiers need (PEM and raw hex)."""
    from cryptography.hazmat.primitives import serialization

    raw = signer.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "key_id": signer.key_id,
        "algorithm": "Ed25519",
        "pem": signer.public_pem(),
        "raw": raw.hex(),
    }


@router.get("/checkpoints", response_model=CheckpointList, summary="Signed checkpoints")
def read_checkpoints(
    session: DbSession,
    who: Reader,
    after_size: Annotated[int, Query(ge=-1, le=INT64_MAX)] = -1,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Checkpoints with size above ``after_size``, oldest first."""
    return {"checkpoints": [c.as_dict() for c in store.list_checkpoints(session, after_size=after_size, limit=limit)]}


@router.get("/checkpoints/latest", response_model=CheckpointOut, summary="Latest signed checkpoint")
def read_latest_checkpoint(session: DbSession, who: Reader) -> dict[str, Any]:
    """Return the most recent checkpoint (404 if none yet)."""
    latest = store.latest_checkpoint(session)
    if latest is None:
        from offtake.errors import NotFoundError

        raise NotFoundError("no checkpoint has been signed yet")
    return latest.as_dict()


@router.post(
    "/checkpoints",
    status_code=201,
    response_model=CheckpointOut,
    responses={200: {"model": CheckpointOut, "description": "The ledger has not grown: the latest checkpoint"}},
    summary="Sign a checkpoint now",
)
def create_checkpoint(
    request: Request,
    response: Response,
    session: DbSession,
    who: Annotated[Principal, Depends(require("ledger:checkpoint"))],
    signer: Annotated[Signer, Depends(get_signer)],
) -> dict[str, Any]:
    """Sign the current tree head (201), or return the latest if the ledger has not grown (200)."""
    made = store.make_checkpoint(session, signer)
    commit(request, session)
    if made is not None:
        return made.as_dict()
    response.status_code = 200
    latest = store.latest_checkpoint(session)
    return latest.as_dict() if latest else {"size": 0}


@router.get("/entries/{seq}", response_model=LedgerEntryOut, summary="One ledger entry")
def read_entry(seq: Annotated[int, Path(ge=0, le=INT64_MAX)], session: DbSession, who: Reader) -> dict[str, Any]:
    """Return the entry's canonical bytes (``data``), decoded (``entry``) and leaf hash."""
    entry = store.get_entry(session, seq)
    _check_entry(who, entry)
    return _entry_out(entry)


@router.get("/entries", response_model=LedgerEntryList, summary="Ledger entries in order")
def read_entries(
    session: DbSession,
    who: Reader,
    start: Annotated[Index, Query()] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Entries from ``start``; an operator sees only its own entries."""
    operator_id = who.operator_id if who.is_operator_bound else None
    return {"entries": [_entry_out(e) for e in store.entries(session, start, limit, operator_id=operator_id)]}


@router.get("/proofs/inclusion", response_model=InclusionProofOut, summary="Inclusion proof of an entry")
def read_inclusion_proof(
    session: DbSession,
    who: Reader,
    seq: Annotated[Index, Query()],
    size: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> dict[str, Any]:
    """Audit path (RFC 9162 §2.1.3) of entry ``seq`` in the tree of ``size`` entries."""
    _check_entry(who, store.get_entry(session, seq))
    return store.inclusion_proof(session, seq, size)


@router.get("/proofs/consistency", response_model=ConsistencyProofOut, summary="Consistency proof between two sizes")
def read_consistency_proof(
    session: DbSession,
    who: Reader,
    first: Annotated[Index, Query()],
    second: Annotated[Index | None, Query()] = None,
) -> dict[str, Any]:
    """Prove (RFC 9162 §2.1.4) the first ``first`` entries unchanged in the tree of ``second``."""
    return store.consistency_proof(session, first, second)
