"""Webhook targets: only public http(s) callbacks; bearer tokens and other VENs' targets hidden."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from offtake.errors import InputError
from offtake.identity.principal import ROLE_SCOPES
from offtake.persistence.db import make_session_factory
from offtake.vtn import service
from offtake.vtn.operations import PLATFORM
from offtake.vtn.privacy import shown_to
from offtake.vtn.service import Caller
from offtake.vtn.store import Filters
from offtake.vtn.webhooks import ALLOW_PRIVATE_KEY, check_callback_url

VEN_A = Caller("ven-a", ROLE_SCOPES["ven"], "site-a")
VEN_B = Caller("ven-b", ROLE_SCOPES["ven"], "site-b")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://203.0.113.9:70/_x", "scheme 'gopher'"),
        ("ftp://8.8.8.8/x", "scheme 'ftp'"),
        ("//8.8.8.8/x", "scheme '(none)'"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://100.64.0.1/hook", "private or reserved"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://user:pw@8.8.8.8/hook", "credentials"),
        ("http://:80/hook", "no host"),
        ("http://8.8.8.8:99999/hook", "not a URL"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_only_public_http_callbacks_are_accepted(url: str, why: str) -> None:
    with pytest.raises(InputError) as info:
        check_callback_url(url, field="objectOperations[0].callbackUrl", allow_private=False)
    assert info.value.field == "objectOperations[0].callbackUrl"
    assert why in info.value.message


def test_public_addresses_pass_and_the_setting_admits_private_ones() -> None:
    check_callback_url("https://8.8.8.8/hook", field="f", allow_private=False)
    check_callback_url("http://[2001:4860:4860::8888]:8443/hook", field="f", allow_private=False)
    for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/", "http://10.0.0.1/"):
        check_callback_url(url, field="f", allow_private=True)
    with pytest.raises(InputError):  # never: unspecified, and never another scheme
        check_callback_url("http://0.0.0.0/", field="f", allow_private=True)
    with pytest.raises(InputError):
        check_callback_url("file:///etc/passwd", field="f", allow_private=True)


def _subscription(url: str, token: str = "hook-secret") -> dict[str, Any]:
    return {
        "clientName": "a",
        "objectOperations": [
            {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "https://8.8.8.8/ok"},
            {"objects": ["EVENT"], "operations": ["UPDATE"], "callbackUrl": url, "bearerToken": token},
        ],
    }


def _private_factory(factory: sessionmaker[Session], allow: bool) -> sessionmaker[Session]:
    return make_session_factory(factory.kw["bind"], info={ALLOW_PRIVATE_KEY: allow})


def test_the_service_refuses_private_callbacks_unless_the_server_allows_them(factory: sessionmaker[Session]) -> None:
    strict = _private_factory(factory, False)
    with strict() as session:
        with pytest.raises(InputError) as info:
            service.create(session, VEN_A, "SUBSCRIPTION", _subscription("http://169.254.169.254/x"))
        assert info.value.field == "objectOperations[1].callbackUrl"
        created = service.create(session, VEN_A, "SUBSCRIPTION", _subscription("https://8.8.8.8/x")).object
        with pytest.raises(InputError):  # a replacement is checked as well
            service.replace(session, VEN_A, "SUBSCRIPTION", created["id"], _subscription("http://127.0.0.1/x"))
        session.rollback()
    with _private_factory(factory, True)() as session:
        service.create(session, VEN_A, "SUBSCRIPTION", _subscription("http://127.0.0.1:9/x"))
        session.rollback()


def test_bearer_tokens_and_other_vens_targets_are_hidden(factory: sessionmaker[Session]) -> None:
    with _private_factory(factory, False)() as session:
        mine = service.create(session, VEN_A, "SUBSCRIPTION", _subscription("https://8.8.8.8/x")).object
        assert mine["objectOperations"][1]["bearerToken"] == "hook-secret"
        assert service.get(session, VEN_A, "SUBSCRIPTION", mine["id"])["objectOperations"][1]["bearerToken"]
        for seen in (
            service.get(session, PLATFORM, "SUBSCRIPTION", mine["id"]),
            *service.listing(
                session,
                PLATFORM,
                "SUBSCRIPTION",
                filters=Filters(),
                target_strings=None,
                target_type=None,
                target_values=None,
                skip=None,
                limit=None,
            ),
        ):
            assert all("bearerToken" not in op for op in seen["objectOperations"]), seen
        program = service.create(session, PLATFORM, "PROGRAM", {"programName": "p"}).object
        event = service.create(
            session,
            PLATFORM,
            "EVENT",
            {"programID": program["id"], "eventName": "all", "targets": ["VEN_NAME:site-a", "VEN_NAME:site-b"]},
        ).object
        assert service.get(session, VEN_A, "EVENT", event["id"])["targets"] == ["VEN_NAME:site-a"]
        assert service.get(session, VEN_B, "EVENT", event["id"])["targets"] == ["VEN_NAME:site-b"]
        assert len(service.get(session, PLATFORM, "EVENT", event["id"])["targets"]) == 2
        # the stored object is untouched
        assert len(service.get(session, PLATFORM, "EVENT", event["id"])["targets"]) == 2
        session.rollback()


def test_notifications_carry_only_what_each_subscriber_may_see(factory: sessionmaker[Session]) -> None:
    with _private_factory(factory, False)() as session:
        program = service.create(session, PLATFORM, "PROGRAM", {"programName": "p"}).object
        for ven in (VEN_A, VEN_B):
            body = {
                "clientName": ven.client_id,
                "objectOperations": [
                    {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "https://8.8.8.8/h"}
                ],
            }
            service.create(session, ven, "SUBSCRIPTION", body)
        watcher = {
            "clientName": "bl",
            "objectOperations": [
                {"objects": ["SUBSCRIPTION"], "operations": ["CREATE"], "callbackUrl": "https://8.8.8.8/bl"}
            ],
        }
        service.create(session, PLATFORM, "SUBSCRIPTION", watcher)
        outcome = service.create(
            session,
            PLATFORM,
            "EVENT",
            {"programID": program["id"], "eventName": "e", "targets": ["VEN_NAME:site-a", "VEN_NAME:site-b"]},
        )
        targets = sorted(tuple(d.notification["object"]["targets"]) for d in outcome.deliveries)
        assert targets == [("VEN_NAME:site-a",), ("VEN_NAME:site-b",)]
        assert all(d.notification["targets"] == d.notification["object"]["targets"] for d in outcome.deliveries)
        # a business subscriber told of a VEN's new subscription does not receive its token
        told = service.create(session, VEN_A, "SUBSCRIPTION", _subscription("https://8.8.8.8/x")).deliveries
        assert told and all(
            "bearerToken" not in op for d in told for op in d.notification["object"]["objectOperations"]
        )
        session.rollback()


def test_shown_to_leaves_the_owner_and_untargeted_objects_alone() -> None:
    sub = {"objectType": "SUBSCRIPTION", "clientID": "a", "objectOperations": [{"bearerToken": "t"}]}
    assert shown_to(sub, client_id="a", visible_targets=set()) is sub
    event = {"objectType": "EVENT", "targets": None}
    assert shown_to(event, client_id="b", visible_targets=set()) is event
