"""The web console: the control room, the regulator and site operators work in a browser.

Server-rendered pages (Jinja2) served by ``offtake serve`` at ``/``, with every asset shipped
in the package so the console works on a control-room network with no internet. People sign in
with a console account (:mod:`offtake.identity.users`); every action goes through the same
domain functions and :class:`~offtake.identity.principal.Principal` checks as the REST API, and
is audited under ``user:<name>``.
"""

from __future__ import annotations

from offtake.api.console.routes import console_router

__all__ = ["console_router"]
