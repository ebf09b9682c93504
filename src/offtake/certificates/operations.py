"""Issue, transfer, retire and list certificates: each a ledger entry, checked against the book.

Every write locks the ledger (:func:`offtake.ledger.store.open_appender`), replays the
certificate entries into a :class:`~offtake.certificates.book.Book` (:func:`load_book`: only
those added since the replay this process kept, while the ledger's root over the kept entries
is unchanged), checks the new entry with the book's rules and appends it; nothing is
committed here (the caller commits). State is never read from a projection table, so a row
edited behind the ledger's back cannot create Wh: entries are checked against their leaf
hashes as they are replayed, and the offline verifier replays them all.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.certificates.book import (
    ISSUE,
    KINDS,
    RETIRE,
    TRANSFER,
    Book,
    Certificate,
    ReadingFact,
    Retirement,
    split_reading,
)
from offtake.certificates.shares import CertificateRules, ShareTable, load_rules
from offtake.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    NotVisibleError,
    PermissionDenied,
    not_found_message,
)
from offtake.identity.principal import Principal
from offtake.ledger.encoding import format_time
from offtake.ledger.integrity import LedgerIntegrityError, LedgerReading, check_leaf, ledger_readings
from offtake.ledger.store import open_appender, tree_head
from offtake.persistence.schema import LedgerEntry, Licence, Operator, Site
from offtake.registry.licences import licence_active_at, licence_events
from offtake.timeutil import require_aware
from offtake.units import validate_id

__all__ = [
    "CertificateState",
    "Holding",
    "Issuance",
    "get_certificate",
    "issue_certificates",
    "list_holdings",
    "list_retirements",
    "load_book",
    "retire_certificate",
    "transfer_certificate",
]


@dataclass(frozen=True)
class Issuance:
    """What :func:`issue_certificates` appended: its ledger seq, readings and certificates."""

    seq: int
    readings: int
    consumption_wh: int
    certificates: list[Certificate]

    @property
    def volume_wh(self) -> int:
        """Wh certified in all [Wh]."""
        return sum(c.volume_wh for c in self.certificates)


@dataclass(frozen=True)
class Holding:
    """Wh of one certificate that one operator holds."""

    certificate: Certificate
    holder: str
    volume_wh: int


@dataclass(frozen=True)
class _Replayed:
    """A book replayed from the first ``size`` ledger entries, whose Merkle root is ``root``."""

    size: int
    root: bytes
    book: Book


#: Books already replayed, per database and rules: a write replays only the entries added since.
_REPLAYED: dict[tuple[str, CertificateRules], _Replayed] = {}
_REPLAYED_LOCK = threading.Lock()


def _cached(session: Session, key: tuple[str, CertificateRules], size: int) -> _Replayed | None:
    """Return the kept replay if the ledger still begins with the entries it was made from."""
    with _REPLAYED_LOCK:
        cached = _REPLAYED.get(key)
    if cached is None or cached.size > size or tree_head(session, cached.size).root != cached.root:
        return None
    return cached


def load_book(session: Session, *, rules: CertificateRules | None = None) -> Book:
    """Replay every certificate entry of the committed ledger into a book.

    The replay of the entries seen before is kept per database (in this process) and only
    the entries added since are read, each checked against its leaf hash; the kept replay is
    used only while the ledger's Merkle root over its entries is unchanged (a ledger rolled
    back, rewritten or replaced is replayed from the start).

    Raises
    ------
    LedgerIntegrityError
        An entry does not match its leaf hash, or breaks the book's rules (it was forged).
    """
    rules = rules or load_rules()
    head = tree_head(session)
    key = (session.get_bind().engine.url.render_as_string(hide_password=True), rules)
    cached = _cached(session, key, head.size)
    book = cached.book.copy() if cached else Book(rules.hour, rules.share_denominator)
    query = (
        select(LedgerEntry.seq, LedgerEntry.kind, LedgerEntry.data, LedgerEntry.leaf_hash)
        .where(
            LedgerEntry.kind.in_(KINDS),
            LedgerEntry.seq >= (cached.size if cached else 0),
            LedgerEntry.seq < head.size,
        )
        .order_by(LedgerEntry.seq)
    )
    for seq, kind, data, leaf in session.execute(query).tuples():
        check_leaf(seq, data, leaf)
        body = json.loads(data)
        if not isinstance(body, dict) or body.get("kind") != kind or body.get("seq") != seq:
            raise LedgerIntegrityError(f"ledger entry {seq}: its kind column disagrees with its bytes", seq=seq)
        problem = book.replay(seq, kind, body)
        if problem is not None:
            raise LedgerIntegrityError(f"ledger entry {seq}: {problem}", seq=seq)
    with _REPLAYED_LOCK:
        _REPLAYED[key] = _Replayed(head.size, head.root, book.copy())
    return book


def _require_licensed(session: Session, operator_id: str, at: datetime, field: str) -> None:
    """Refuse an operator that is unknown or holds no active licence at ``at``."""
    if session.get(Operator, operator_id) is None:
        raise NotFoundError(f"operator '{operator_id}' does not exist")
    for licence in session.execute(select(Licence).where(Licence.operator_id == operator_id)).scalars():
        if licence_active_at(licence, licence_events(session, licence.id), at):
            return
    raise ConflictError(
        f"operator '{operator_id}' holds no active licence at {format_time(at)}; "
        "only licensed operators may hold certificates",
        field=field,
    )


def _require_holder(principal: Principal, holder: str) -> None:
    """Only the holder moves its certificates (or the local administrator on its behalf)."""
    if principal.role == "system":
        return
    if principal.role != "operator":
        raise PermissionDenied(
            f"client '{principal.client_id}' ({principal.role}) may not move certificates; only their holder may"
        )
    principal.require_operator(holder, f"operator '{holder}'")


def _volume(volume_wh: object) -> int:
    if isinstance(volume_wh, bool) or not isinstance(volume_wh, int) or volume_wh <= 0:
        raise InputError(f"volume_wh must be a positive whole number of Wh, got {volume_wh!r}", field="volume_wh")
    return volume_wh


def _hours(readings: Sequence[LedgerReading], rules: CertificateRules) -> dict[datetime, tuple[int, list[int]]]:
    """Energy per clock hour and the readings it came from."""
    hours: dict[datetime, tuple[int, list[int]]] = {}
    for r in readings:
        for hour, wh in split_reading(r.interval_start, r.interval_end, r.energy_wh, rules.hour):
            energy, refs = hours.get(hour, (0, []))
            refs.append(r.seq)
            hours[hour] = (energy + wh, refs)
    return hours


def _certificates(
    seq: int, zone: str, hours: dict[datetime, tuple[int, list[int]]], shares: ShareTable, rules: CertificateRules
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for hour in sorted(hours):
        energy, refs = hours[hour]
        for tech, ppm in sorted(shares.of(zone, hour).items()):
            volume = energy * ppm // rules.share_denominator
            if volume > 0:
                out.append(
                    {
                        "id": f"GC-{seq}-{len(out)}",
                        "start": format_time(hour),
                        "end": format_time(hour + rules.hour),
                        "technology": tech,
                        "volume_wh": volume,
                        "consumption_wh": energy,
                        "share_ppm": ppm,
                        "readings": sorted(set(refs)),
                    }
                )
    return out


def issue_certificates(
    session: Session,
    principal: Principal,
    site_id: str,
    start: datetime,
    end: datetime,
    shares: ShareTable,
    *,
    new_only: bool = False,
    now: datetime | None = None,
    rules: CertificateRules | None = None,
) -> Issuance:
    """Issue hourly certificates for a site's readings starting in ``[start, end)``.

    Parameters
    ----------
    session
        Open session; the caller commits.
    principal
        Who issues (needs ``registry:write``: the grid operator or the local administrator).
    site_id
        The site whose metered energy is certified.
    start, end
        The period (aware); readings that start in it are issued against.
    shares
        Renewable share per zone, hour and technology [ppm].
    new_only
        Skip readings issued against before instead of refusing the whole issuance.
    now
        Recording time (default now).
    rules
        Certificate rules (bundled by default).

    Raises
    ------
    ConflictError
        A reading was issued against before (double issuance), or the site's operator holds
        no active licence.
    InputError
        A bad period, no readings, or no share for an hour of the site's zone.
    """
    principal.require_scope("registry:write")
    rules = rules or load_rules()
    start, end = require_aware(start, field="start"), require_aware(end, field="end")
    if end <= start:
        raise InputError(f"the period ends {format_time(end)}, not after its start {format_time(start)}", field="end")
    now = now or datetime.now(UTC)
    appender = open_appender(session)  # lock: the book below is the settled one
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"site '{site_id}' does not exist")
    _require_licensed(session, site.operator_id, now, "site_id")
    readings = ledger_readings(session, [site_id], start, end)
    book = load_book(session, rules=rules)
    done = [r for r in readings if r.seq in book.issued_readings]
    if done and not new_only:
        first = done[0]
        raise ConflictError(
            f"reading {first.seq} of site '{site_id}' ({format_time(first.interval_start)} to "
            f"{format_time(first.interval_end)}, {first.energy_wh} Wh) was already issued against by ledger entry "
            f"{book.issued_readings[first.seq]}, and {len(done) - 1} more: a double issuance, refused",
            field="period",
        )
    readings = [r for r in readings if r.seq not in book.issued_readings]
    if not readings:
        raise InputError(
            f"site '{site_id}' has no reading left to issue against from {format_time(start)} to {format_time(end)}",
            field="period",
        )
    seq = appender.size
    hours = _hours(readings, rules)
    body = {
        "site": site_id,
        "operator": site.operator_id,
        "zone": site.zone,
        "start": format_time(start),
        "end": format_time(end),
        "standard": rules.standard,
        "shares": shares.source,
        "readings": [r.seq for r in readings],
        "certificates": _certificates(seq, site.zone, hours, shares, rules),
    }
    book.readings = {r.seq: ReadingFact(r.site_id, r.interval_start, r.interval_end, r.energy_wh) for r in readings}
    book.check_readings = True
    problem = book.replay(seq, ISSUE, body)
    if problem is not None:  # the rules refuse what this code built: a bug, never stored
        raise ConflictError(problem)
    appender.add(ISSUE, body, by=principal.client_id, at=now, operator_id=site.operator_id, key=(site_id, start, end))
    appender.flush()
    issued = [c for c in book.certificates.values() if c.issue_seq == seq]
    return Issuance(seq, len(readings), sum(r.energy_wh for r in readings), issued)


def _move(
    session: Session,
    principal: Principal,
    kind: str,
    body: dict[str, Any],
    holder: str,
    counterparties: Sequence[str],
    now: datetime | None,
) -> int:
    _require_holder(principal, holder)
    certificate = body["certificate"]
    if not isinstance(certificate, str) or not certificate:
        raise InputError("give the certificate id", field="certificate")
    now = now or datetime.now(UTC)
    appender = open_appender(session)
    book = load_book(session)
    _require_visible(principal, book, certificate)
    for operator in (holder, *counterparties):
        _require_licensed(session, operator, now, "to" if operator != holder else "holder")
    seq = appender.size
    problem = book.problem(seq, kind, body)
    if problem is not None:
        raise ConflictError(problem, field="volume_wh")
    appender.add(kind, body, by=principal.client_id, at=now, operator_id=holder)
    appender.flush()
    return seq


def transfer_certificate(
    session: Session,
    principal: Principal,
    certificate: str,
    from_operator: str,
    to_operator: str,
    volume_wh: int,
    *,
    now: datetime | None = None,
) -> int:
    """Move ``volume_wh`` of a certificate from its holder to another licensed operator.

    Less than all of the holding splits it; the Wh moved are whole. Returns the ledger seq.

    Raises
    ------
    ConflictError
        The holder holds fewer Wh (they were transferred away or retired: a double claim),
        or either party holds no active licence.
    NotVisibleError
        An operator moves another operator's certificates.
    """
    validate_id(to_operator, "to")
    if to_operator == from_operator:
        raise InputError(f"'{from_operator}' cannot transfer to itself", field="to")
    body = {"certificate": certificate, "from": from_operator, "to": to_operator, "volume_wh": _volume(volume_wh)}
    return _move(session, principal, TRANSFER, body, from_operator, [to_operator], now)


def retire_certificate(
    session: Session,
    principal: Principal,
    certificate: str,
    holder: str,
    volume_wh: int,
    *,
    beneficiary: str,
    claim: str,
    now: datetime | None = None,
) -> int:
    """Retire ``volume_wh`` of a certificate against a claim; those Wh are never held again.

    Returns the ledger seq of the retirement.

    Raises
    ------
    ConflictError
        The holder holds fewer Wh (already retired or transferred away: a double claim).
    """
    for name, value, longest in (("beneficiary", beneficiary, 200), ("claim", claim, 2000)):
        if not value.strip():
            raise InputError(f"give the {name} of the retirement", field=name)
        if len(value) > longest:
            raise InputError(f"the {name} is {len(value)} characters; at most {longest}", field=name)
    body = {
        "certificate": certificate,
        "holder": holder,
        "volume_wh": _volume(volume_wh),
        "beneficiary": beneficiary.strip(),
        "claim": claim.strip(),
    }
    return _move(session, principal, RETIRE, body, holder, [], now)


def _require_visible(principal: Principal, book: Book, certificate: str) -> None:
    """Refuse a certificate that does not exist or, for an operator, that it never held.

    Both read alike (``certificate '<id>' does not exist``, HTTP 404), so an operator cannot
    probe which ids exist.
    """
    if certificate not in book.certificates:
        raise NotFoundError(not_found_message(f"certificate '{certificate}'"))
    if principal.is_operator_bound and not book.party_to(certificate, principal.operator_id or ""):
        raise NotVisibleError(f"certificate '{certificate}'")


@dataclass(frozen=True)
class CertificateState:
    """One certificate as the caller may see it: who holds it, what was retired of it.

    An operator sees only its own holding and its own retirements of a certificate it has
    held; a reader of everything sees every holder and retirement.
    """

    certificate: Certificate
    holdings: list[Holding]
    retirements: list[Retirement]

    @property
    def held_wh(self) -> int:
        """Wh of the certificate held now by the holders shown [Wh]."""
        return sum(h.volume_wh for h in self.holdings)

    @property
    def retired_wh(self) -> int:
        """Wh of the certificate retired in the retirements shown [Wh]."""
        return sum(r.volume_wh for r in self.retirements)


def get_certificate(session: Session, principal: Principal, certificate: str) -> CertificateState:
    """Return one certificate with its holdings and retirements, as ``principal`` may see them.

    Raises
    ------
    NotFoundError
        No such certificate, or (for an operator) one it has never held; both read alike.
    """
    principal.require_scope("ledger:read")
    book = load_book(session)
    _require_visible(principal, book, certificate)
    mine = principal.operator_id if principal.is_operator_bound else None
    holdings = [
        Holding(book.certificates[certificate], who, wh)
        for (cid, who), wh in sorted(book.holdings.items())
        if cid == certificate and (mine is None or who == mine)
    ]
    retirements = [r for r in book.retirements if r.certificate == certificate and (mine is None or r.holder == mine)]
    return CertificateState(book.certificates[certificate], holdings, retirements)


def _visible_holder(principal: Principal, holder: str | None) -> str | None:
    principal.require_scope("ledger:read")
    if principal.is_operator_bound:
        if holder is not None and holder != principal.operator_id:
            raise NotVisibleError(f"operator '{holder}'")
        return principal.operator_id
    return holder


def list_holdings(session: Session, principal: Principal, *, holder: str | None = None) -> list[Holding]:
    """Certificates held now, by certificate and holder (an operator sees only its own)."""
    holder = _visible_holder(principal, holder)
    book = load_book(session)
    return [
        Holding(book.certificates[cid], who, wh)
        for (cid, who), wh in sorted(book.holdings.items(), key=lambda kv: (book.certificates[kv[0][0]].start, kv[0]))
        if holder is None or who == holder
    ]


def list_retirements(session: Session, principal: Principal, *, holder: str | None = None) -> list[Retirement]:
    """Retirements, oldest first (an operator sees only its own)."""
    holder = _visible_holder(principal, holder)
    return [r for r in load_book(session).retirements if holder is None or r.holder == holder]
