"""Webhook subscription end to end: a new event reaches the agent through its listener long before
the next poll; a VTN that calls no loopback address leaves the agent polling."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("pyasic", reason="the agent extra (pyasic) is not installed")

from agent_platform import RATED_W, Platform, first_ip, publish, start_platform, write_site

from offtake.agent.config import load_config
from offtake.agent.fakes.whatsminer import FakeFleet
from offtake.agent.runner import build_agent
from offtake.agent.webhook import MAX_BODY

MINERS = 3
SLOW_POLL_S = 30.0
WEBHOOK = '[webhook]\nlisten = "127.0.0.1:0"\n'


@pytest.fixture(scope="module")
def open_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A VTN whose operator lets webhooks reach loopback addresses (tests only)."""
    p = start_platform(tmp_path_factory.mktemp("vtn-hooks"), allow_private=True)
    yield p
    p.stop()


@pytest.fixture(scope="module")
def strict_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A VTN with the default policy: no callback to loopback or private addresses."""
    p = start_platform(tmp_path_factory.mktemp("vtn-strict"))
    yield p
    p.stop()


async def _wait(check: Any, limit_s: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if check():
            return time.monotonic() - t0
        await asyncio.sleep(0.02)
    return None


def test_a_new_cap_reaches_the_agent_through_the_webhook_before_the_next_poll(
    open_platform: Platform, tmp_path: Path
) -> None:
    first = first_ip()
    vtn = {"poll_s": SLOW_POLL_S, "safety_poll_s": SLOW_POLL_S}
    config = load_config(write_site(tmp_path, open_platform, first, MINERS, None, vtn=vtn, tail=WEBHOOK))
    cap_w = 2 * RATED_W
    with FakeFleet.build(MINERS, first_ip=first) as fleet:
        agent = build_agent(config)

        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            try:
                out["subscribed"] = await _wait(lambda: agent.status.subscribed and agent.status.limit, 15)
                assert agent._listener is not None
                url, token = agent._listener.url, agent._listener.token
                # the VTN loses the subscription: the next (safety) poll finds out and subscribes again
                lost = agent._subscription
                assert lost is not None
                await agent.ven.unsubscribe(lost)
                agent._next_poll = 0.0
                agent._wake.set()
                out["resubscribed"] = await _wait(lambda: agent._subscription not in (None, lost), 10)
                out["events"] = publish(open_platform, cap_w / 1e6)
                t0 = time.monotonic()
                out["took_s"] = await _wait(lambda: agent.status.limit and agent.status.limit.cap_w == cap_w, 10)
                out["miners_s"] = await _wait(lambda: sum(m.power_limit_w for m in fleet.miners) <= cap_w, 10)
                out["total_s"] = time.monotonic() - t0
                out["notifications"] = agent.status.notifications
                async with httpx.AsyncClient() as client:
                    note = {"objectType": "EVENT", "operation": "DELETE", "object": {"id": out["events"][0]}}
                    out["wrong_token"] = (await client.post(url, json=note, headers={"Authorization": "Bearer x"})
                                          ).status_code  # fmt: skip
                    out["no_token"] = (await client.post(url, json=note)).status_code
                    out["wrong_path"] = (await client.post(url + "x", json=note,
                                                           headers={"Authorization": f"Bearer {token}"})).status_code
                    big = b"{" + b" " * MAX_BODY + b"}"
                    out["too_big"] = (await client.post(url, content=big, headers={
                        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})).status_code
                    out["get"] = (await client.get(url, headers={"Authorization": f"Bearer {token}"})).status_code
                out["limit_after_hostile"] = agent.status.limit.cap_w if agent.status.limit else None
            finally:
                stop.set()
                await task
                await agent.close()
            return out

        out = asyncio.run(scenario())
    open_platform.vtn.end_events(out.get("events", []), end=datetime.now(UTC))
    assert out["subscribed"] is not None, "the agent did not subscribe"
    assert out["resubscribed"] is not None, "a lost subscription was not made again"
    # the poll is 30 s away: only the webhook can have brought the cap this fast
    assert out["took_s"] is not None and out["took_s"] < 5, out
    assert out["notifications"] >= 1
    assert out["miners_s"] is not None and out["total_s"] < SLOW_POLL_S / 2
    assert (out["wrong_token"], out["no_token"], out["wrong_path"], out["too_big"], out["get"]) == (
        401, 401, 404, 413, 405)  # fmt: skip
    assert out["limit_after_hostile"] == cap_w  # nothing refused was taken
    # the subscription's secret never reaches the operator's log; the schedule was kept on disk, owner-only
    log = (tmp_path / "logs" / "commands.log").read_text()
    assert '"subscribed"' in log and '"subscription-lost"' in log and token_absent(log, tmp_path)
    state = tmp_path / "site.state.json"
    assert state.stat().st_mode & 0o777 == 0o600
    assert any(w["cap_w"] == cap_w for w in json.loads(state.read_text())["windows"])


def token_absent(log: str, folder: Path) -> bool:
    """Whether no bearer token appears in the log (only the placeholder)."""
    return all("(secret)" == json.loads(line)["body"]["objectOperations"][0]["bearerToken"]
               for line in log.splitlines()
               if json.loads(line)["command"] == "POST /subscriptions")  # fmt: skip


def test_a_vtn_that_refuses_loopback_webhooks_leaves_the_agent_polling(
    strict_platform: Platform, tmp_path: Path
) -> None:
    first = first_ip()
    config = load_config(write_site(tmp_path, strict_platform, first, 2, None, vtn={"poll_s": 0.3}, tail=WEBHOOK))
    cap_w = RATED_W
    with FakeFleet.build(2, first_ip=first):
        agent = build_agent(config)

        async def scenario() -> tuple[bool, float | None, list[str]]:
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            try:
                await _wait(lambda: agent.status.vtn_reachable, 10)
                events = publish(strict_platform, cap_w / 1e6)
                took = await _wait(lambda: agent.status.limit is not None and agent.status.limit.cap_w == cap_w, 10)
                return agent.status.subscribed, took, events
            finally:
                stop.set()
                await task
                await agent.close()

        subscribed, took, events = asyncio.run(scenario())
    strict_platform.vtn.end_events(events, end=datetime.now(UTC))
    assert subscribed is False
    assert took is not None  # polling brought it
    lines = [json.loads(line) for line in (tmp_path / "logs" / "commands.log").read_text().splitlines()]
    refused = [line for line in lines if line["command"] == "subscription-refused"]
    assert refused and "loopback" in refused[0]["answer"]


def test_a_refused_subscription_is_asked_again_with_a_growing_wait_until_the_vtn_accepts(tmp_path: Path) -> None:
    """A VTN that refuses loopback callbacks at first, then (its operator changes the setting) accepts them."""
    p = start_platform(tmp_path / "vtn")
    first = first_ip()
    poll_s, safety_s = 0.3, 1.2
    config = load_config(write_site(tmp_path, p, first, 2, None, vtn={"poll_s": poll_s, "safety_poll_s": safety_s},
                                    tail=WEBHOOK))  # fmt: skip
    cap_w = RATED_W
    events: list[str] = []
    try:
        with FakeFleet.build(2, first_ip=first):
            agent = build_agent(config)

            async def scenario() -> dict[str, Any]:
                out: dict[str, Any] = {}
                stop = asyncio.Event()
                task = asyncio.create_task(agent.run(stop))
                try:
                    out["three_refusals"] = await _wait(lambda: len(_refusals(tmp_path)) >= 3, 15)
                    out["subscribed_while_refused"] = agent.status.subscribed
                    events.extend(publish(p, cap_w / 1e6))  # polling brings it meanwhile
                    out["polled"] = await _wait(lambda: agent.status.limit is not None
                                                and agent.status.limit.cap_w == cap_w, 10)  # fmt: skip
                    p.allow_private_webhooks(True)
                    out["subscribed"] = await _wait(lambda: agent.status.subscribed, 4 * safety_s + 5)
                    events.extend(publish(p, 2 * cap_w / 1e6))
                    out["notified"] = await _wait(lambda: agent.status.notifications >= 1, 10)
                finally:
                    stop.set()
                    await task
                    await agent.close()
                return out

            out = asyncio.run(scenario())
    finally:
        p.vtn.end_events(events, end=datetime.now(UTC))
        p.stop()
    assert out["three_refusals"] is not None, "a refused subscription was not asked again"
    assert out["subscribed_while_refused"] is False and out["polled"] is not None
    assert out["subscribed"] is not None, "the agent did not subscribe once the VTN accepted"
    assert out["notified"] is not None, "no notification reached the agent after it subscribed"
    # the waits between tries: from poll_s, doubling, never above safety_poll_s (each one a lower bound)
    times = [datetime.fromisoformat(line["at"]).timestamp() for line in _refusals(tmp_path)]
    gaps = [b - a for a, b in pairwise(times)]
    expected = [min(poll_s * 2**i, safety_s) for i in range(len(gaps))]
    assert all(g >= e * 0.95 for g, e in zip(gaps, expected, strict=True)), (gaps, expected)
    assert "trying again in 0.3 s" in _refusals(tmp_path)[0]["answer"]


def _refusals(folder: Path) -> list[dict[str, Any]]:
    """The ``subscription-refused`` lines of the agent's command log."""
    path = folder / "logs" / "commands.log"
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if line["command"] == "subscription-refused"]


def test_the_wait_before_subscribing_again_doubles_up_to_the_safety_poll() -> None:
    from offtake.agent.runner import next_backoff

    waits = [0.0]
    for _ in range(8):
        waits.append(next_backoff(waits[-1], 5.0, 60.0))
    assert waits[1:] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0, 60.0]
    assert next_backoff(0.0, 90.0, 60.0) == 60.0  # a poll slower than the safety poll: never above it
    assert next_backoff(60.0, 90.0, 60.0) == 60.0


def test_webhook_tables_name_the_bad_field(tmp_path: Path) -> None:
    from offtake.errors import InputError

    (tmp_path / "s").write_text("secret")
    (tmp_path / "s").chmod(0o600)
    head = ('[site]\nid = "w1"\n[vtn]\nurl = "http://127.0.0.1:9/x"\nclient_id = "c"\nclient_secret_file = "s"\n'
            '[[asic]]\nhosts = ["10.0.0.1"]\nmax_w = 3400\nstandby_w = 20\n')  # fmt: skip
    path = tmp_path / "site.toml"
    path.write_text(head + '[webhook]\nlisten = "0.0.0.0:8765"\nurl = "https://agent.example:8765/hook"\n')
    config = load_config(path)
    assert config.webhook_listen == ("0.0.0.0", 8765) and config.webhook_url == "https://agent.example:8765/hook"
    for table, field in {'listen = "8765"\n': "webhook.listen", 'listen = "h:99999"\n': "webhook.listen",
                         'listen = "0.0.0.0:8765"\n': "webhook.url",
                         'listen = "127.0.0.1:1"\nurl = "ftp://x"\n': "webhook.url"}.items():  # fmt: skip
        path.write_text(head + "[webhook]\n" + table)
        with pytest.raises(InputError, match=field.replace(".", r"\.")):
            load_config(path)


def test_a_webhook_port_already_taken_leaves_the_agent_polling(strict_platform: Platform, tmp_path: Path) -> None:
    from platform_fixtures import free_socket

    taken = free_socket()
    taken.listen()
    port = taken.getsockname()[1]
    first = first_ip()
    hook = f'[webhook]\nlisten = "127.0.0.1:{port}"\n'
    config = load_config(write_site(tmp_path, strict_platform, first, 1, None, vtn={"poll_s": 0.3}, tail=hook))
    try:
        with FakeFleet.build(1, first_ip=first):
            agent = build_agent(config)

            async def scenario() -> tuple[bool, bool]:
                try:
                    await agent.run(asyncio.Event(), max_ticks=2)
                    return agent.status.vtn_reachable, agent.status.subscribed
                finally:
                    await agent.close()

            reachable, subscribed = asyncio.run(scenario())
    finally:
        taken.close()
    assert reachable and not subscribed
    lines = [json.loads(line) for line in (tmp_path / "logs" / "commands.log").read_text().splitlines()]
    assert any(line["command"] == "webhook-not-started" for line in lines)
