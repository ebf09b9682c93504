"""The programme registry: operators, licences, sites, contracts and allocations.

Every write takes the acting :class:`~offtake.identity.principal.Principal`, checks what it
may do, and is recorded in the audit log and the ledger.

Main entry points
-----------------
- :func:`offtake.registry.eligibility.eligible_sites` — sites that may draw power at an instant
  (active licence of a kind that powers the site's kind, within its validity).
- :func:`offtake.registry.eligibility.site_power_limit_w` — the allocation or contract in force.
- :mod:`offtake.registry.licences` — licence lifecycle (applied → approved → active →
  suspended / revoked).
"""
