"""Reconciliation of metered energy against caps, and monthly bills.

- :func:`offtake.billing.reconcile.reconcile_site` — each interval's draw against the cap in
  force (dispatched cap, else the site's power limit; 0 without an active licence), with
  over-draw and penalty as the contract says.
- :func:`offtake.billing.bills.monthly_bill` — energy × tariff plus penalties, in micro-USD
  and paisa, exact integers; :func:`offtake.billing.bills.issue_bill` fixes and ledgers it.
"""
