"""The certificate book: issuance, transfers and retirements replayed from ledger entries.

Certificates live only as ledger entries; the book is what replaying them gives, and the one
place their rules are written. The platform (:mod:`offtake.certificates.operations`) checks
every new entry with :meth:`Book.problem` before appending it, and the offline verifier
(:mod:`offtake.certificates.verify`) replays an export through the same method, so a forged
entry that the platform would have refused is found the same way.

Entries (canonical JSON, :mod:`offtake.ledger.encoding`):

``cert_issue``
    ``site``, ``operator``, ``zone``, ``start``/``end`` (the period issued), ``standard``,
    ``shares`` (where the renewable shares came from), ``readings`` (every reading entry
    the issuance consumed, certificate or not) and ``certificates``: a list of
    ``{id, start, end, technology, volume_wh, consumption_wh, share_ppm, readings}``, one per
    hour and renewable technology, with ``volume_wh = consumption_wh * share_ppm // 10**6``.
``cert_transfer``
    ``certificate``, ``from``, ``to``, ``volume_wh``: moves whole Wh of one certificate
    from one holder to another (a split when less than all).
``cert_retire``
    ``certificate``, ``holder``, ``volume_wh``, ``beneficiary``, ``claim``: cancels whole
    Wh against a claim; retired Wh are never held again.

Invariant: for every certificate, the Wh held by all holders plus the Wh retired equal the
Wh issued; no reading is issued against twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from offtake.ledger.encoding import format_time, parse_time

__all__ = [
    "ISSUE",
    "KINDS",
    "RETIRE",
    "TRANSFER",
    "Book",
    "Certificate",
    "ReadingFact",
    "Retirement",
    "split_reading",
]

ISSUE = "cert_issue"
TRANSFER = "cert_transfer"
RETIRE = "cert_retire"
#: The ledger entry kinds of certificates.
KINDS = (ISSUE, TRANSFER, RETIRE)


@dataclass(frozen=True)
class ReadingFact:
    """A reading as its ledger entry holds it (times UTC, energy [Wh])."""

    site: str
    start: datetime
    end: datetime
    energy_wh: int


@dataclass(frozen=True)
class Certificate:
    """One hourly certificate as issued.

    Attributes
    ----------
    id
        Certificate id (``GC-<issue seq>-<n>``).
    site, operator, zone
        Where the energy was consumed, and the operator first holding it.
    start, end
        The hour of production and consumption (UTC).
    technology
        Renewable technology of the production.
    volume_wh
        Energy certified [Wh].
    consumption_wh
        Energy the site drew in the hour [Wh].
    share_ppm
        Share of the zone's supply from ``technology`` in the hour [ppm].
    readings
        Ledger seqs of the readings the certificate is issued against.
    issue_seq
        Ledger seq of the issuance entry.
    """

    id: str
    site: str
    operator: str
    zone: str
    start: datetime
    end: datetime
    technology: str
    volume_wh: int
    consumption_wh: int
    share_ppm: int
    readings: tuple[int, ...]
    issue_seq: int


@dataclass(frozen=True)
class Retirement:
    """Wh of a certificate cancelled against a claim."""

    seq: int
    certificate: str
    holder: str
    volume_wh: int
    beneficiary: str
    claim: str


def split_reading(start: datetime, end: datetime, energy_wh: int, hour: timedelta) -> list[tuple[datetime, int]]:
    """Split a reading over the clock hours it covers, in proportion to time, in whole Wh.

    Each hour gets ``energy * overlap // duration``; the last hour gets what rounding left,
    so the parts sum to ``energy_wh`` exactly.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2025, 1, 6, 0, 30, tzinfo=UTC)
    >>> [(h.hour, wh) for h, wh in split_reading(t, t + timedelta(hours=1), 1001, timedelta(hours=1))]
    [(0, 500), (1, 501)]
    """
    step = int(hour.total_seconds() * 1_000_000)
    s_us, e_us = _us(start), _us(end)
    total = e_us - s_us
    parts: list[tuple[datetime, int]] = []
    at = s_us - s_us % step
    left = energy_wh
    while at < e_us:
        lo, hi = max(at, s_us), min(at + step, e_us)
        wh = left if hi == e_us else energy_wh * (hi - lo) // total
        parts.append((start + timedelta(microseconds=at - s_us), wh))
        left -= wh
        at += step
    return parts


def _us(value: datetime) -> int:
    delta = value - datetime(1970, 1, 1, tzinfo=value.tzinfo)
    return delta // timedelta(microseconds=1)


def _int(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"'{name}' is not an integer")
    return value


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{name}' is not a text")
    return value


@dataclass
class Book:
    """Certificates, who holds how many Wh of each, and what was retired.

    Parameters
    ----------
    hour
        The matching period (``offtake/data/certificates.toml``).
    denominator
        The unit of shares (ppm).
    readings
        Reading entries by seq (the offline verifier feeds every one, the platform those of
        the site being issued).
    check_readings
        Check each certificate's consumption against ``readings``.

    The other fields are the replayed state; ``parties`` names every operator that has held
    some of each certificate (the one it was issued to and every recipient of a transfer), so
    an operator may see a certificate it sold or retired but not one it never held.
    """

    hour: timedelta
    denominator: int
    readings: dict[int, ReadingFact] = field(default_factory=dict)
    check_readings: bool = False
    certificates: dict[str, Certificate] = field(default_factory=dict)
    holdings: dict[tuple[str, str], int] = field(default_factory=dict)
    retired_wh: dict[str, int] = field(default_factory=dict)
    retirements: list[Retirement] = field(default_factory=list)
    issued_readings: dict[int, int] = field(default_factory=dict)
    parties: dict[str, frozenset[str]] = field(default_factory=dict)

    def copy(self) -> Book:
        """Return a book with the same state that can be changed independently (certificates are immutable)."""
        return Book(
            self.hour,
            self.denominator,
            dict(self.readings),
            self.check_readings,
            dict(self.certificates),
            dict(self.holdings),
            dict(self.retired_wh),
            list(self.retirements),
            dict(self.issued_readings),
            dict(self.parties),
        )

    def party_to(self, certificate: str, operator: str) -> bool:
        """Whether ``operator`` has held any Wh of ``certificate`` (now or before)."""
        return operator in self.parties.get(certificate, frozenset())

    def held(self, certificate: str, holder: str) -> int:
        """Wh of ``certificate`` that ``holder`` holds now."""
        return self.holdings.get((certificate, holder), 0)

    def replay(self, seq: int, kind: str, body: Mapping[str, Any]) -> str | None:
        """Check one entry and apply it if sound; return what is wrong with it, or None."""
        problem = self.problem(seq, kind, body)
        if problem is None:
            self.apply(seq, kind, body)
        return problem

    def problem(self, seq: int, kind: str, body: Mapping[str, Any]) -> str | None:
        """Return what makes entry ``seq`` unsound against the book so far (None when sound)."""
        try:
            if kind == ISSUE:
                return self._issue_problem(seq, body)
            if kind == TRANSFER:
                return self._move_problem(body, _text(body, "from"), "transfers")
            if kind == RETIRE:
                return self._move_problem(body, _text(body, "holder"), "retires")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return f"malformed {kind} entry: {exc}"
        return f"unknown certificate entry kind '{kind}'"

    def _move_problem(self, body: Mapping[str, Any], holder: str, verb: str) -> str | None:
        certificate = _text(body, "certificate")
        volume = _int(body, "volume_wh")
        if target := body.get("to"):
            if not isinstance(target, str):
                raise ValueError("'to' is not a text")
            if target == holder:
                return f"certificate {certificate}: a transfer from '{holder}' to itself"
        elif verb == "transfers":
            raise ValueError("'to' is not a text")
        else:
            for name in ("beneficiary", "claim"):
                _text(body, name)
        if certificate not in self.certificates:
            return f"certificate {certificate} was never issued; the entry {verb} {volume} Wh of it"
        if volume <= 0:
            return f"certificate {certificate}: volume_wh must be a positive number of Wh, got {volume}"
        held = self.held(certificate, holder)
        if volume > held:
            retired = self.retired_wh.get(certificate, 0)
            return (
                f"certificate {certificate}: '{holder}' {verb} {volume} Wh but holds {held} Wh "
                f"(of {self.certificates[certificate].volume_wh} Wh issued, {retired} Wh retired): "
                "a double claim, refused"
            )
        return None

    def _issue_problem(self, seq: int, body: Mapping[str, Any]) -> str | None:
        site = _text(body, "site")
        for name in ("operator", "zone"):
            _text(body, name)
        consumed = body["readings"]
        if not isinstance(consumed, list) or not consumed:
            raise ValueError("'readings' is not a list of reading seqs")
        for reading in consumed:
            if not isinstance(reading, int) or isinstance(reading, bool):
                raise ValueError("'readings' is not a list of reading seqs")
            if reading in self.issued_readings:
                return (
                    f"reading {reading} of site '{site}' was already issued against by entry "
                    f"{self.issued_readings[reading]}: a double issuance, refused"
                )
        listed = set(consumed)
        if len(listed) != len(consumed):
            return f"issuance {seq} lists a reading twice"
        by_hour: dict[datetime, dict[str, int]] = {}
        for n, cert in enumerate(body["certificates"]):
            if cert["id"] != f"GC-{seq}-{n}" or cert["id"] in self.certificates:
                return f"certificate id {cert['id']!r} at position {n} of entry {seq} is not GC-{seq}-{n}"
            problem = self._certificate_problem(site, cert, listed, by_hour)
            if problem:
                return problem
        return None

    def _certificate_problem(
        self, site: str, cert: Mapping[str, Any], consumed: set[int], by_hour: dict[datetime, dict[str, int]]
    ) -> str | None:
        cid = _text(cert, "id")
        start, end = parse_time(_text(cert, "start")), parse_time(_text(cert, "end"))
        volume, consumption, ppm = _int(cert, "volume_wh"), _int(cert, "consumption_wh"), _int(cert, "share_ppm")
        tech = _text(cert, "technology")
        if end - start != self.hour or int(start.timestamp()) % int(self.hour.total_seconds()):
            return f"certificate {cid}: {format_time(start)} to {format_time(end)} is not one clock hour"
        if not 0 < ppm <= self.denominator or consumption < 0:
            return f"certificate {cid}: share_ppm {ppm} or consumption_wh {consumption} out of range"
        if volume != consumption * ppm // self.denominator or volume <= 0:
            return (
                f"certificate {cid}: volume_wh {volume} is not consumption_wh {consumption} x share "
                f"{ppm}/{self.denominator} = {consumption * ppm // self.denominator} Wh: an over-claim"
            )
        hour_techs = by_hour.setdefault(start, {})
        if tech in hour_techs or sum(hour_techs.values()) + ppm > self.denominator:
            return f"certificate {cid}: the shares of hour {format_time(start)} sum above the whole or repeat '{tech}'"
        hour_techs[tech] = ppm
        refs = cert["readings"]
        if not isinstance(refs, list) or any(r not in consumed for r in refs):
            return f"certificate {cid}: its readings are not among the issuance's readings"
        if self.check_readings:
            drawn = 0
            for ref in refs:
                fact = self.readings.get(ref)
                if fact is None:
                    return f"certificate {cid}: ledger entry {ref} is not a reading"
                if fact.site != site:
                    return f"certificate {cid}: reading {ref} is of site '{fact.site}', not '{site}'"
                drawn += sum(
                    wh for h, wh in split_reading(fact.start, fact.end, fact.energy_wh, self.hour) if h == start
                )
            if drawn != consumption:
                return (
                    f"certificate {cid}: consumption_wh {consumption} but its readings show {drawn} Wh "
                    f"in the hour from {format_time(start)}: an over-claim"
                )
        return None

    def apply(self, seq: int, kind: str, body: Mapping[str, Any]) -> None:
        """Apply a sound entry (checked with :meth:`problem`)."""
        if kind == ISSUE:
            for reading in body["readings"]:
                self.issued_readings[reading] = seq
            for cert in body["certificates"]:
                c = Certificate(
                    id=cert["id"],
                    site=body["site"],
                    operator=body["operator"],
                    zone=body["zone"],
                    start=parse_time(cert["start"]),
                    end=parse_time(cert["end"]),
                    technology=cert["technology"],
                    volume_wh=cert["volume_wh"],
                    consumption_wh=cert["consumption_wh"],
                    share_ppm=cert["share_ppm"],
                    readings=tuple(cert["readings"]),
                    issue_seq=seq,
                )
                self.certificates[c.id] = c
                self.holdings[(c.id, c.operator)] = c.volume_wh
                self.parties[c.id] = frozenset((c.operator,))
        elif kind == TRANSFER:
            self._take(body["certificate"], body["from"], body["volume_wh"])
            key = (body["certificate"], body["to"])
            self.holdings[key] = self.holdings.get(key, 0) + body["volume_wh"]
            self.parties[body["certificate"]] = self.parties[body["certificate"]] | {body["to"]}
        elif kind == RETIRE:
            self._take(body["certificate"], body["holder"], body["volume_wh"])
            self.retired_wh[body["certificate"]] = self.retired_wh.get(body["certificate"], 0) + body["volume_wh"]
            self.retirements.append(
                Retirement(
                    seq, body["certificate"], body["holder"], body["volume_wh"], body["beneficiary"], body["claim"]
                )
            )

    def _take(self, certificate: str, holder: str, volume: int) -> None:
        key = (certificate, holder)
        left = self.holdings[key] - volume
        if left:
            self.holdings[key] = left
        else:
            del self.holdings[key]
