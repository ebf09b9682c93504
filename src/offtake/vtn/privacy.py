"""What of an OpenADR object a reader is shown: other tenants' names and secrets are cut out.

Two rules, applied to every object a client reads or is notified of:

* ``targets`` are private to the business logic (OpenADR 3.1.0 definitions). A reader
  without ``read_all`` (a VEN) sees only the targets that are its own (its ``VEN_NAME`` and
  ``RESOURCE_NAME`` and those of the vens and resources it owns): an emergency event
  targeted at every site of a zone shows each VEN only its own site.
* A subscription's ``bearerToken`` (the secret the VTN sends with each callback) is shown
  only to the client that owns the subscription.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

__all__ = ["shown_to"]


def shown_to(
    wire: dict[str, Any],
    *,
    client_id: str,
    visible_targets: Collection[str] | None,
) -> dict[str, Any]:
    """Return ``wire`` as the client ``client_id`` may see it.

    Parameters
    ----------
    wire
        The object as stored (not modified).
    client_id
        The reader's OAuth client id.
    visible_targets
        The reader's own targets, or ``None`` for a business-logic reader (sees all targets).

    Returns
    -------
    dict
        ``wire`` itself when nothing is hidden, else a copy with the hidden parts removed.
    """
    out = wire
    targets = wire.get("targets")
    if visible_targets is not None and targets:
        mine = [target for target in targets if target in visible_targets]
        if len(mine) != len(targets):
            out = {**out, "targets": mine}
    if wire.get("objectType") == "SUBSCRIPTION" and wire.get("clientID") != client_id:
        operations = wire.get("objectOperations") or []
        if any(isinstance(op, dict) and "bearerToken" in op for op in operations):
            out = {
                **out,
                "objectOperations": [
                    {k: v for k, v in op.items() if k != "bearerToken"} if isinstance(op, dict) else op
                    for op in operations
                ],
            }
    return out
