"""Tables of the platform: clients, registry, metering ledger, caps, audit.

Power is stored in whole watts (``*_w``), energy in whole watt-hours (``*_wh``), money
in micro-USD (``*_micro_usd*``) and exchange rates in micro-PKR per USD, so that every
sum in a bill is exact. The API speaks MW, MWh and USD and converts at the edge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from offtake.persistence.db import Base, UTCDateTime

__all__ = [
    "Allocation",
    "ApiClient",
    "AuditEvent",
    "Bill",
    "Cap",
    "Checkpoint",
    "ConsoleSession",
    "ConsoleUser",
    "Contract",
    "DispatchCap",
    "DispatchRound",
    "GridEmergency",
    "LedgerEntry",
    "LedgerHead",
    "Licence",
    "LicenceEvent",
    "LicenceKind",
    "MerkleNode",
    "Operator",
    "Reading",
    "Site",
    "VtnObject",
    "VtnTarget",
    "VtnVersion",
]

_ID = 64


class ApiClient(Base):
    """An OAuth2 client (machine or person) with a role and a hashed secret."""

    __tablename__ = "api_client"

    client_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    operator_id: Mapped[str | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    secret_hash: Mapped[str] = mapped_column(String(300))
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ConsoleUser(Base):
    """A person who signs in to the web console, with a role as an API client has.

    The password is stored as a scrypt hash; repeated failures lock the account for a while.
    """

    __tablename__ = "console_user"

    name: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    operator_id: Mapped[str | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ConsoleSession(Base):
    """A signed-in browser session; the cookie holds a random token, the table its hash."""

    __tablename__ = "console_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("console_user.name"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Operator(Base):
    """A company that runs sites (a miner or a data-centre operator)."""

    __tablename__ = "operator"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LicenceKind(Base):
    """A kind of licence the regulator grants; data, not code.

    ``site_kinds`` lists the site kinds a licence of this kind powers (empty for kinds
    such as exchanges that draw no programme power). ``limits`` holds activity caps
    (``max_mw``, ``max_energy_mwh`` and any other the regulator names); ``max_term_days``
    makes the licence time-limited (a sandbox).
    """

    __tablename__ = "licence_kind"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    site_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_term_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(Text, default="")


class Licence(Base):
    """A licence held by an operator; its state changes are in :class:`LicenceEvent`."""

    __tablename__ = "licence"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operator.id"), index=True)
    kind_id: Mapped[str] = mapped_column(ForeignKey("licence_kind.id"))
    state: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reference: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LicenceEvent(Base):
    """One state change of a licence: from, to, when, by whom and why."""

    __tablename__ = "licence_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    licence_id: Mapped[str] = mapped_column(ForeignKey("licence.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_client: Mapped[str] = mapped_column(String(_ID))
    reason: Mapped[str] = mapped_column(Text, default="")


class Site(Base):
    """A flexible load: zone, kind, operator, and the licence it draws power under."""

    __tablename__ = "site"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operator.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    zone: Mapped[str] = mapped_column(String(_ID))
    kind: Mapped[str] = mapped_column(String(32))
    licence_id: Mapped[str | None] = mapped_column(ForeignKey("licence.id"), nullable=True)
    connection_w: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Contract(Base):
    """Off-take contract of a site: tariff, tranches, curtailment terms and penalties."""

    __tablename__ = "contract"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"), index=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tariff_micro_usd_per_mwh: Mapped[int] = mapped_column(BigInteger)
    firm_w: Mapped[int] = mapped_column(BigInteger)
    interruptible_w: Mapped[int] = mapped_column(BigInteger)
    max_curtailment_fraction: Mapped[float] = mapped_column(Float)
    max_curtailment_duration_h: Mapped[float] = mapped_column(Float)
    annual_curtailment_limit: Mapped[float] = mapped_column(Float)
    response_time_s: Mapped[float] = mapped_column(Float)
    overdraw_tolerance_bp: Mapped[int] = mapped_column(Integer)
    overdraw_penalty_micro_usd_per_mwh: Mapped[int] = mapped_column(BigInteger)
    exchange_rate_micro_pkr_per_usd: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Allocation(Base):
    """One row of a planner's ``allocation.csv``, in force from ``valid_from``."""

    __tablename__ = "allocation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_id: Mapped[str] = mapped_column(String(_ID), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"), index=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    firm_w: Mapped[int] = mapped_column(BigInteger)
    interruptible_w: Mapped[int] = mapped_column(BigInteger)
    allocated_w: Mapped[int] = mapped_column(BigInteger)
    max_curtailment_fraction: Mapped[float] = mapped_column(Float)
    max_curtailment_duration_h: Mapped[float] = mapped_column(Float)
    annual_curtailment_limit: Mapped[float] = mapped_column(Float)
    response_time_s: Mapped[float] = mapped_column(Float)
    tariff_micro_usd_per_mwh: Mapped[int] = mapped_column(BigInteger)
    expected_energy_mwh: Mapped[float] = mapped_column(Float)
    curtailed_hours: Mapped[float] = mapped_column(Float)
    curtailment_events: Mapped[int] = mapped_column(Integer)
    mean_event_h: Mapped[float] = mapped_column(Float)
    source_file: Mapped[str] = mapped_column(String(500))
    source_line: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Cap(Base):
    """The power cap in force for a site over one dispatch interval."""

    __tablename__ = "cap"
    __table_args__ = (UniqueConstraint("site_id", "interval_start", name="uq_cap_site_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    interval_start: Mapped[datetime] = mapped_column(UTCDateTime())
    interval_end: Mapped[datetime] = mapped_column(UTCDateTime())
    cap_w: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_client: Mapped[str] = mapped_column(String(_ID))
    ledger_seq: Mapped[int] = mapped_column(BigInteger)


class Reading(Base):
    """Metered energy of one meter of a site over one interval [Wh]."""

    __tablename__ = "reading"
    __table_args__ = (
        UniqueConstraint("site_id", "meter_id", "interval_start", name="uq_reading_meter_start"),
        Index("ix_reading_site_start", "site_id", "interval_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    meter_id: Mapped[str] = mapped_column(String(_ID))
    interval_start: Mapped[datetime] = mapped_column(UTCDateTime())
    interval_end: Mapped[datetime] = mapped_column(UTCDateTime())
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_client: Mapped[str] = mapped_column(String(_ID))
    ledger_seq: Mapped[int] = mapped_column(BigInteger)


class LedgerEntry(Base):
    """One leaf of the append-only ledger: canonical JSON bytes and their RFC 6962 hash.

    ``site_id``, ``start_us`` and ``end_us`` (the interval in microseconds since 1970 UTC)
    repeat the key of a reading or cap entry (from ``data``) so checks can find a site's
    entries by time; whoever reads them checks both
    against the hashed bytes.
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (Index("ix_ledger_entry_key", "kind", "site_id", "start_us", "end_us"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    operator_id: Mapped[str | None] = mapped_column(String(_ID), nullable=True, index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    site_id: Mapped[str | None] = mapped_column(String(_ID), nullable=True)
    start_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    end_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class MerkleNode(Base):
    """Hash of a complete subtree of ``2**level`` leaves starting at leaf ``index * 2**level``."""

    __tablename__ = "merkle_node"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerHead(Base):
    """The single row holding the ledger size; appenders lock it to serialise."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)


class Checkpoint(Base):
    """A signed statement of the ledger's size and Merkle root."""

    __tablename__ = "checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str] = mapped_column(String(_ID))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class AuditEvent(Base):
    """Who changed what, when; each event is also a ledger entry (``ledger_seq``)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    client_id: Mapped[str] = mapped_column(String(_ID))
    role: Mapped[str] = mapped_column(String(32))
    operator_id: Mapped[str | None] = mapped_column(String(_ID), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(_ID))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)


class Bill(Base):
    """A monthly bill once issued; its content is fixed and ledgered."""

    __tablename__ = "bill"
    __table_args__ = (UniqueConstraint("site_id", "month", name="uq_bill_site_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    month: Mapped[str] = mapped_column(String(7))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    total_micro_usd: Mapped[int] = mapped_column(BigInteger)
    total_paisa: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)


# --------------------------------------------------------------------------- live dispatch


class DispatchRound(Base):
    """One run of the dispatch core for one interval (at most one per interval)."""

    __tablename__ = "dispatch_round"
    __table_args__ = (UniqueConstraint("interval_start", name="uq_dispatch_round_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interval_start: Mapped[datetime] = mapped_column(UTCDateTime())
    interval_end: Mapped[datetime] = mapped_column(UTCDateTime())
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_client: Mapped[str] = mapped_column(String(_ID))
    feed: Mapped[str] = mapped_column(Text)
    sites: Mapped[int] = mapped_column(Integer)
    deferred_w: Mapped[int] = mapped_column(BigInteger)
    #: Zone -> deliverable power after the safety margin [W]; emergencies in force; notes.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    publish_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class DispatchCap(Base):
    """A site's cap in one round, the rule that set it and what it was computed from."""

    __tablename__ = "dispatch_cap"
    __table_args__ = (
        UniqueConstraint("site_id", "interval_start", name="uq_dispatch_cap_site_start"),
        Index("ix_dispatch_cap_start", "interval_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("dispatch_round.id"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    operator_id: Mapped[str] = mapped_column(String(_ID), index=True)
    zone: Mapped[str] = mapped_column(String(_ID))
    kind: Mapped[str] = mapped_column(String(32))
    interval_start: Mapped[datetime] = mapped_column(UTCDateTime())
    interval_end: Mapped[datetime] = mapped_column(UTCDateTime())
    cap_w: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))
    target_w: Mapped[int] = mapped_column(BigInteger)
    allocation_w: Mapped[int] = mapped_column(BigInteger)
    floor_w: Mapped[int] = mapped_column(BigInteger)
    last_draw_w: Mapped[int] = mapped_column(BigInteger)
    #: ``reading`` (last metered interval), ``cap`` (previous cap, no fresh reading) or ``none``.
    draw_source: Mapped[str] = mapped_column(String(16))
    #: Why, in words, where the reason alone does not say (e.g. which licence state).
    note: Mapped[str] = mapped_column(Text, default="")
    #: Ledger entry of the stored cap.
    ledger_seq: Mapped[int] = mapped_column(BigInteger)


class GridEmergency(Base):
    """A grid emergency declared by the control room, national (``zone`` None) or per zone."""

    __tablename__ = "grid_emergency"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    zone: Mapped[str | None] = mapped_column(String(_ID), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    declared_by: Mapped[str] = mapped_column(String(_ID))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cleared_by: Mapped[str | None] = mapped_column(String(_ID), nullable=True)
    #: Sites told to shed and the OpenADR events that told them.
    site_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    vtn_event_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


# --------------------------------------------------------------------------- OpenADR objects


class VtnObject(Base):
    """One OpenADR object: filter columns plus the body as sent on the wire."""

    __tablename__ = "vtn_object"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    object_type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(128))
    unique_key: Mapped[str | None] = mapped_column(String(300))
    program_id: Mapped[str | None] = mapped_column(String(128))
    event_id: Mapped[str | None] = mapped_column(String(128))
    ven_id: Mapped[str | None] = mapped_column(String(128))
    client_id: Mapped[str | None] = mapped_column(String(128))
    client_name: Mapped[str | None] = mapped_column(String(128))
    #: For subscriptions: the subscriber's scopes and site, which bound what it is told.
    owner_scopes: Mapped[str | None] = mapped_column(String(300))
    owner_site: Mapped[str | None] = mapped_column(String(128))
    targeted: Mapped[bool] = mapped_column(default=False)
    #: Event span [s since the Unix epoch], for dateStart/dateEnd/active filters.
    start_s: Mapped[int | None] = mapped_column(BigInteger)
    end_s: Mapped[int | None] = mapped_column(BigInteger)
    created: Mapped[str] = mapped_column(String(40))
    modified: Mapped[str] = mapped_column(String(40))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("object_type", "unique_key", name="uq_vtn_object_unique_key"),
        Index("ix_vtn_object_type_program", "object_type", "program_id"),
        Index("ix_vtn_object_type_client", "object_type", "client_id"),
        Index("ix_vtn_object_type_ven", "object_type", "ven_id"),
        Index("ix_vtn_object_type_name", "object_type", "name"),
    )


class VtnTarget(Base):
    """One target string of one object."""

    __tablename__ = "vtn_target"

    object_seq: Mapped[int] = mapped_column(ForeignKey("vtn_object.seq", ondelete="CASCADE"), primary_key=True)
    target: Mapped[str] = mapped_column(String(128), primary_key=True)

    __table_args__ = (Index("ix_vtn_target_target", "target", "object_seq"),)


class VtnVersion(Base):
    """Change counter of one object type, raised by every committed write of that type."""

    __tablename__ = "vtn_version"

    object_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
