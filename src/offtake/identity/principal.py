"""Who is calling: roles, scopes and the :class:`Principal` every write is recorded under.

This module has no web dependency, so the library (registry, ledger, bills) can check
access with the same rules the API uses.

Roles:

- ``grid_operator``: run the registry (sites, contracts, allocations), record caps and
  readings, checkpoint, issue bills, read everything;
- ``regulator``: read everything, register operators and licence kinds, manage licences,
  checkpoint;
- ``operator``: read its own operator, licences, sites, contracts, caps, readings, bills
  ledger entries and audit trail; report readings for its own sites; apply for licences;
- ``programme_office``: the programme office and grid planners: read the registry, caps,
  ledger, bills and audit trail; run studies from the console;
- ``ven``: a site's OpenADR client: report readings and read caps of the one site it is
  bound to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType

from offtake.errors import NotVisibleError, PermissionDenied

__all__ = [
    "ALL_SCOPES",
    "OPENADR_SCOPES",
    "ROLES",
    "ROLE_SCOPES",
    "SYSTEM",
    "Principal",
]

_READ_ALL = (
    "registry:read",
    "readings:read",
    "caps:read",
    "ledger:read",
    "bills:read",
    "audit:read",
)

#: OpenADR 3 scope names, granted to the roles that act as business logic or VEN.
OPENADR_SCOPES = (
    "read_all",
    "read_targets",
    "read_ven_objects",
    "write_programs",
    "write_events",
    "write_reports",
    "write_subscriptions",
    "write_vens",
)

#: Scopes each role may hold; a token asks for a subset (all by default).
ROLE_SCOPES: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "grid_operator": frozenset(
            (
                *_READ_ALL,
                "registry:write",
                "readings:write",
                "caps:write",
                "ledger:checkpoint",
                "bills:write",
                "read_all",
                "read_targets",
                "read_ven_objects",
                "write_programs",
                "write_events",
                "write_subscriptions",
                "write_vens",
            )
        ),
        "regulator": frozenset((*_READ_ALL, "licences:write", "ledger:checkpoint", "read_all")),
        "operator": frozenset(
            (
                "registry:read",
                "readings:read",
                "readings:write",
                "caps:read",
                "ledger:read",
                "bills:read",
                "audit:read",
                "licences:apply",
            )
        ),
        "programme_office": frozenset(("registry:read", "caps:read", "ledger:read", "bills:read", "audit:read")),
        "ven": frozenset(
            (
                "readings:write",
                "caps:read",
                "read_targets",
                "read_ven_objects",
                "write_reports",
                "write_subscriptions",
                "write_vens",
            )
        ),
    }
)

#: Every role a client may have.
ROLES = tuple(ROLE_SCOPES)

#: Every scope any role may hold.
ALL_SCOPES = frozenset().union(*ROLE_SCOPES.values())

_OPERATOR_BOUND = frozenset({"operator", "ven"})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Parameters
    ----------
    client_id
        The OAuth2 client id (recorded as "who" on every write).
    role
        One of :data:`ROLES`, or ``system`` for local administration.
    operator_id
        The operator an ``operator`` or ``ven`` client belongs to.
    scopes
        Scopes granted to the current token.
    site_id
        The site a ``ven`` client is bound to.
    """

    client_id: str
    role: str
    operator_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    site_id: str | None = None

    @property
    def is_operator_bound(self) -> bool:
        """Whether this caller only sees its own operator's data."""
        return self.role in _OPERATOR_BOUND

    def has_scope(self, scope: str) -> bool:
        """Whether the token grants ``scope``."""
        return scope in self.scopes

    def require_scope(self, *scopes: str) -> None:
        """Raise :class:`PermissionDenied` unless every scope in ``scopes`` is granted."""
        missing = [s for s in scopes if s not in self.scopes]
        if missing:
            raise PermissionDenied(f"client '{self.client_id}' ({self.role}) lacks scope {' '.join(missing)}")

    def may_access_operator(self, operator_id: str | None) -> bool:
        """Whether this caller may see data that belongs to ``operator_id``."""
        if not self.is_operator_bound:
            return True
        return operator_id is not None and operator_id == self.operator_id

    def may_access_site(self, site_id: str, operator_id: str | None) -> bool:
        """Whether this caller may see and act for site ``site_id`` of ``operator_id``."""
        if not self.may_access_operator(operator_id):
            return False
        return self.role != "ven" or site_id == self.site_id

    def require_operator(self, operator_id: str | None, what: str) -> None:
        """Raise :class:`NotVisibleError` if ``what`` belongs to another operator.

        The error reads exactly like the one for an unknown ``what`` (``<what> does not
        exist``, HTTP 404), so a tenant cannot probe which ids exist.
        """
        if not self.may_access_operator(operator_id):
            raise NotVisibleError(what)

    def require_site(self, site_id: str, operator_id: str | None) -> None:
        """Raise :class:`NotVisibleError` unless this caller may act for site ``site_id``.

        Another operator's site, or for a VEN any site but its own, reads like an unknown site.
        """
        if not self.may_access_site(site_id, operator_id):
            raise NotVisibleError(f"site '{site_id}'")


def _all(scopes: Iterable[str]) -> frozenset[str]:
    return frozenset(scopes)


#: The local administrator (CLI commands run on the server host).
SYSTEM = Principal(client_id="system", role="system", scopes=_all(ALL_SCOPES))
