"""Which callback URLs a subscription may name, checked when it is written and when it is called.

A VEN chooses its subscription's ``callbackUrl``, and the VTN then makes HTTP calls to it:
without a check a VEN could make the server call into its own network (the cloud metadata
service at 169.254.169.254, an admin port on 127.0.0.1) or use another scheme. Only
``http`` and ``https`` URLs are accepted, and their host (an address, or every address the
name resolves to) must be public, unless the operator allows private targets
(``OFFTAKE_WEBHOOK_ALLOW_PRIVATE``: tests and a local demo, whose receivers listen on
127.0.0.1). Unspecified and multicast addresses are never accepted.

The policy reaches the VTN service through the database session:
``session.info["webhook_allow_private"]`` (the server's session factory sets it from the
settings; absent means not allowed).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from offtake.errors import InputError

__all__ = ["ALLOW_PRIVATE_KEY", "allows_private", "check_callback_url", "check_subscription"]

#: Key of the policy in ``Session.info``.
ALLOW_PRIVATE_KEY = "webhook_allow_private"

_SCHEMES = frozenset({"http", "https"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def allows_private(session: Any) -> bool:
    """Whether the session's server lets callbacks reach private and loopback addresses."""
    info = getattr(session, "info", None) or {}
    return bool(info.get(ALLOW_PRIVATE_KEY, False))


def _addresses(host: str, port: int, field: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise InputError(f"host '{host}' does not resolve; give a reachable http(s) URL", field=field) from None
    found: list[IPAddress] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        found.append(ipaddress.ip_address(text))
    if not found:
        raise InputError(f"host '{host}' does not resolve", field=field)
    return found


def _refusal(address: IPAddress, allow_private: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified or address.is_multicast:
        return "an unspecified or multicast address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if address.is_private or address.is_reserved or not address.is_global:
        return "a private or reserved address"
    return None


def check_callback_url(url: str, *, field: str, allow_private: bool) -> None:
    """Raise :class:`InputError` naming ``field`` unless ``url`` is a callback the VTN may call.

    Parameters
    ----------
    url
        The callback URL.
    field
        Where the URL sits in the request, e.g. ``objectOperations[0].callbackUrl``.
    allow_private
        Accept loopback, private and link-local targets.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"'{url}' is not a URL: {exc}", field=field) from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise InputError(f"scheme '{scheme or '(none)'}' refused; a callback URL is http or https", field=field)
    host = parts.hostname
    if not host:
        raise InputError(f"'{url}' names no host", field=field)
    if parts.username is not None or parts.password is not None:
        raise InputError("a callback URL may not carry credentials; use bearerToken", field=field)
    for address in _addresses(host, port or (443 if scheme == "https" else 80), field):
        why = _refusal(address, allow_private)
        if why is not None:
            raise InputError(
                f"host '{host}' is {why} ({address}); callbacks go to public addresses only",
                field=field,
            )


def check_subscription(operations: Iterable[Any], *, allow_private: bool) -> None:
    """Check every ``callbackUrl`` of a subscription's ``objectOperations``."""
    for index, operation in enumerate(operations):
        check_callback_url(
            str(operation.callbackUrl),
            field=f"objectOperations[{index}].callbackUrl",
            allow_private=allow_private,
        )
