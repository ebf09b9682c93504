"""The platform server: registry, access control, metering ledger, reconciliation and bills.

Importing this package has no side effects; build the application with
:func:`offtake.server.app.create_app`.
"""
