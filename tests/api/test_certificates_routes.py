"""Certificates over HTTP on a real server: readings to issue, transfer, retire, export and offline verify.

The path a buyer of hourly-matched clean power follows, end to end: the grid operator records
metered readings and issues certificates from them, the site's operator transfers part to
another licensed operator and retires part against a claim, a second claim of the same Wh is
refused, and the regulator's export verifies offline (the library and the ``offtake`` command)
while an export with one certificate's volume raised fails. Then every kind of hostile input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from platform_fixtures import Live
from typer.testing import CliRunner

from offtake.certificates import verify_certificates
from offtake.cli import _register, app
from offtake.ledger.signing import load_public_key

HOURS = [f"2025-08-01T{h:02d}:00:00Z" for h in range(4)]
#: Renewable shares of zone LESCO in the first three hours of 1 August 2025 [ppm]; none in the fourth.
SHARES: list[dict[str, Any]] = [
    {"zone": "LESCO", "hour_start": HOURS[0], "technology": "solar_pv", "share_ppm": 400_000},
    {"zone": "LESCO", "hour_start": HOURS[0], "technology": "hydro", "share_ppm": 250_000},
    {"zone": "LESCO", "hour_start": HOURS[1], "technology": "solar_pv", "share_ppm": 123_457},
    {"zone": "LESCO", "hour_start": HOURS[2], "technology": None, "share_ppm": 0},
]
#: Energy S1 drew in each of those hours [Wh].
DRAWN = (10_000_000, 7_000_001, 5_000_000)


@pytest.fixture(scope="module")
def clients(live: Live) -> Iterator[dict[str, httpx.Client]]:
    made = {name: live.http(name) for name in ("grid", "regulator", "office", "op1", "op2", "ven1")}
    try:
        yield made
    finally:
        for client in made.values():
            client.close()


def _readings(grid: httpx.Client, site: str, day: str = "2025-08-01") -> None:
    for hour, wh in enumerate(DRAWN):
        reading = {
            "site_id": site,
            "meter_id": "m-cert",
            "interval_start": f"{day}T{hour:02d}:00:00Z",
            "interval_end": f"{day}T{hour + 1:02d}:00:00Z",
            "energy_wh": wh,
        }
        answer = grid.post("/readings", json=reading)
        assert answer.status_code in (200, 201), answer.text


def _issue(grid: httpx.Client, site: str, start: str = HOURS[0], end: str = HOURS[3], **more: Any) -> httpx.Response:
    return grid.post("/certificates/issuances", json={"site_id": site, "start": start, "end": end, **more})


def _problem(answer: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    for word in words:
        assert word in json.dumps(body), (word, body)
    return body


def _holdings(client: httpx.Client) -> dict[tuple[str, str], int]:
    answer = client.get("/certificates")
    assert answer.status_code == 200, answer.text
    return {(h["certificate"]["id"], h["holder"]): h["volume_wh"] for h in answer.json()["holdings"]}


def test_readings_issue_transfer_retire_export_and_verify_offline(
    clients: dict[str, httpx.Client], tmp_path: Path
) -> None:
    grid, op1, op2, regulator = clients["grid"], clients["op1"], clients["op2"], clients["regulator"]
    _readings(grid, "S1")
    issued = _issue(grid, "S1", shares=SHARES)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    certs = body["certificates"]
    # hour 0: 40 % solar and 25 % hydro of 10 MWh; hour 1: 12.3457 % of 7,000,001 Wh; hour 2: none
    assert [(c["technology"], c["volume_wh"]) for c in certs] == [
        ("hydro", 2_500_000),
        ("solar_pv", 4_000_000),
        ("solar_pv", 7_000_001 * 123_457 // 1_000_000),
    ]
    assert body["readings"] == 3 and body["consumption_wh"] == sum(DRAWN)
    assert body["volume_wh"] == sum(c["volume_wh"] for c in certs)
    _problem(_issue(grid, "S1", shares=SHARES), 409, "double issuance")

    solar = certs[1]["id"]
    assert _holdings(op1) == {(c["id"], "op1"): c["volume_wh"] for c in certs}
    assert _holdings(op2) == {}
    moved = op1.post(f"/certificates/{solar}/transfers", json={"to": "op2", "volume_wh": 1_500_000})
    assert moved.status_code == 201, moved.text
    assert moved.json()["from_operator"] == "op1" and moved.json()["to_operator"] == "op2"
    assert _holdings(op2) == {(solar, "op2"): 1_500_000}
    assert _holdings(op1)[(solar, "op1")] == 2_500_000

    claim = {"volume_wh": 2_500_000, "beneficiary": "AI campus Lahore", "claim": "hourly-matched load, August 2025"}
    retired = op1.post(f"/certificates/{solar}/retirements", json=claim)
    assert retired.status_code == 201, retired.text
    assert retired.json()["holder"] == "op1" and retired.json()["volume_wh"] == 2_500_000
    # the same Wh claimed a second time: refused, and the problem says why
    _problem(op1.post(f"/certificates/{solar}/retirements", json=claim), 409, "double claim", "holds 0 Wh")
    _problem(op1.post(f"/certificates/{solar}/retirements", json={**claim, "volume_wh": 1}), 409, "double claim")
    # op2 may not retire more than it was given, but may retire what it holds
    _problem(op2.post(f"/certificates/{solar}/retirements", json={**claim, "volume_wh": 1_500_001}), 409)
    assert op2.post(f"/certificates/{solar}/retirements", json={**claim, "volume_wh": 1_500_000}).status_code == 201

    # who sees what: the regulator every holder and claim, each operator its own part
    seen = regulator.get(f"/certificates/{solar}").json()
    assert seen["retired_wh"] == 4_000_000 and seen["held_wh"] == 0 and len(seen["retirements"]) == 2
    mine = op2.get(f"/certificates/{solar}").json()
    assert [r["holder"] for r in mine["retirements"]] == ["op2"] and mine["retired_wh"] == 1_500_000
    assert {r["holder"] for r in op1.get("/certificates/retirements").json()["retirements"]} == {"op1"}
    everyone = regulator.get("/certificates/retirements").json()
    assert everyone["total_wh"] >= 4_000_000 and {r["holder"] for r in everyone["retirements"]} >= {"op1", "op2"}
    assert solar not in {c["certificate"]["id"] for c in regulator.get("/certificates").json()["holdings"]}

    # the regulator's export verifies offline, by the library and by the command
    exported = regulator.get("/certificates/export")
    assert exported.status_code == 200, exported.text
    out = exported.json()
    path = tmp_path / "ledger.offtake"
    path.write_text(out["export"], encoding="ascii")
    key = load_public_key(out["public_key"])
    report = verify_certificates(path, key)
    assert report.ok, [str(f) for f in [*report.ledger.findings, *report.findings]]
    assert report.issued_wh >= body["volume_wh"] and report.retired_wh >= 4_000_000
    _register()
    result = CliRunner().invoke(app, ["ledger", "verify-certificates", str(path), "--public-key", out["public_key"]])
    assert result.exit_code == 0 and result.output.startswith("OK:"), result.output

    # an export with one certificate's volume raised fails, and says which
    forged = tmp_path / "forged.offtake"
    needle = f'"id":"{certs[0]["id"]}","readings"'
    text = out["export"]
    assert needle in text
    forged.write_text(text.replace('"volume_wh":2500000', '"volume_wh":2500001', 1), encoding="ascii")
    bad = verify_certificates(forged, key)
    assert not bad.ok and (bad.findings or bad.ledger.findings)
    result = CliRunner().invoke(app, ["ledger", "verify-certificates", str(forged), "--public-key", out["public_key"]])
    assert result.exit_code == 1 and "FAILED" in result.output, result.output


def test_who_may_issue_move_and_export(clients: dict[str, httpx.Client]) -> None:
    grid, op1, op2, ven = clients["grid"], clients["op1"], clients["op2"], clients["ven1"]
    _readings(grid, "S2", day="2025-08-02")
    shares = [{**s, "hour_start": s["hour_start"].replace("08-01", "08-02")} for s in SHARES]
    for name in ("regulator", "office", "op1", "op2", "ven1"):
        _problem(_issue(clients[name], "S2", HOURS[0], HOURS[3], shares=shares), 403)
    answer = _issue(grid, "S2", HOURS[0].replace("08-01", "08-02"), HOURS[3].replace("08-01", "08-02"), shares=shares)
    assert answer.status_code == 201, answer.text
    theirs = answer.json()["certificates"][0]["id"]
    # op1 never held op2's certificate: it reads exactly like an unknown id
    other = op1.get(f"/certificates/{theirs}")
    unknown = op1.get("/certificates/GC-999999-0")
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"] == unknown.json()["detail"].replace("GC-999999-0", theirs)
    for path, body in (
        ("transfers", {"to": "op2", "volume_wh": 1}),
        ("retirements", {"volume_wh": 1, "beneficiary": "x", "claim": "y"}),
    ):
        _problem(op1.post(f"/certificates/{theirs}/{path}", json=body), 404, "does not exist")
        for name in ("grid", "regulator", "office", "ven1"):
            _problem(clients[name].post(f"/certificates/{theirs}/{path}", json=body), 403)
    assert op2.get(f"/certificates/{theirs}").status_code == 200
    _problem(op1.get("/certificates", params={"holder": "op2"}), 404)
    for client in (op1, ven):
        _problem(client.get("/certificates/export"), 403)
    _problem(ven.get("/certificates"), 403)
    assert clients["office"].get("/certificates/export").status_code == 200


@pytest.fixture(scope="module")
def held(clients: dict[str, httpx.Client]) -> str:
    """A certificate op1 holds (1 MWh of solar in the first hour of 3 August 2025)."""
    grid = clients["grid"]
    reading = {"site_id": "S1", "meter_id": "m-h", "energy_wh": 2_000_000}
    reading |= {"interval_start": "2025-08-03T00:00:00Z", "interval_end": "2025-08-03T01:00:00Z"}
    assert grid.post("/readings", json=reading).status_code in (200, 201)
    share = {"zone": "LESCO", "hour_start": "2025-08-03T00:00:00Z", "technology": "solar_pv", "share_ppm": 500_000}
    answer = _issue(grid, "S1", "2025-08-03T00:00:00Z", "2025-08-03T01:00:00Z", shares=[share])
    assert answer.status_code == 201, answer.text
    return str(answer.json()["certificates"][0]["id"])


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        ('{"to": "op2", "volume_wh": NaN}', 400, None),
        ('{"to": "op2", "volume_wh": Infinity}', 400, None),
        ('{"to": "op2", "volume_wh": -1000000}', 422, "volume_wh"),
        ('{"to": "op2", "volume_wh": 0}', 422, "volume_wh"),
        ('{"to": "op2", "volume_wh": 1.5}', 422, "volume_wh"),
        ('{"to": "op2", "volume_wh": "1000"}', 422, "volume_wh"),
        ('{"to": "op2", "volume_wh": 1e400}', 400, None),
        ('{"to": "op2", "volume_wh": 99999999999999999999999}', 422, "volume_wh"),
        ('{"to": "op2", "volume_wh": 1, "extra": 1}', 422, "extra"),
        ('{"to": "op1", "volume_wh": 1}', 422, "to"),
        ('{"to": "bad id!", "volume_wh": 1}', 422, "to"),
        ('{"to": "op2", "volume_wh": 10000000}', 409, "volume_wh"),
        ('{"to": "op9", "volume_wh": 1}', 404, None),
    ],
)
def test_hostile_transfers_are_refused_and_change_nothing(
    clients: dict[str, httpx.Client], held: str, raw: str, status: int, field: str | None
) -> None:
    op1 = clients["op1"]
    before = _holdings(op1)
    answer = op1.post(f"/certificates/{held}/transfers", content=raw, headers={"content-type": "application/json"})
    body = _problem(answer, status)
    if field is not None:
        assert field in (body.get("field") or "") or field in body["detail"], body
    assert _holdings(op1) == before


def test_transfer_to_an_unlicensed_party_and_bad_retirements_are_refused(
    clients: dict[str, httpx.Client], held: str
) -> None:
    op1, regulator = clients["op1"], clients["regulator"]
    created = regulator.post("/operators", json={"id": "op3", "name": "Unlicensed trader"})
    assert created.status_code in (201, 409), created.text
    before = _holdings(op1)
    _problem(op1.post(f"/certificates/{held}/transfers", json={"to": "op3", "volume_wh": 1}), 409, "licence")
    for body, status, field in (
        ({"volume_wh": 1, "beneficiary": "   ", "claim": "c"}, 422, "beneficiary"),
        ({"volume_wh": 1, "beneficiary": "b", "claim": "x" * 2001}, 422, "claim"),
        ({"volume_wh": -1, "beneficiary": "b", "claim": "c"}, 422, "volume_wh"),
        ({"volume_wh": 1, "beneficiary": "b"}, 422, "claim"),
    ):
        problem = _problem(op1.post(f"/certificates/{held}/retirements", json=body), status)
        assert field in (problem.get("field") or ""), problem
    for bad_id in ("GC-999999-0", "GC-1"):
        status = 404 if bad_id.count("-") == 2 else 422
        _problem(op1.post(f"/certificates/{bad_id}/retirements", json={**body, "claim": "c"}), status)
        _problem(clients["grid"].get(f"/certificates/{bad_id}"), status)
    assert _holdings(op1) == before


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"shares": [{**SHARES[0], "share_ppm": 1_000_001}]}, 422, "shares[0].share_ppm"),
        ({"shares": [{**SHARES[0], "share_ppm": -1}]}, 422, "shares[0].share_ppm"),
        ({"shares": [{**SHARES[0], "hour_start": "2025-08-05T00:30:00Z"}]}, 422, "shares[0].hour_start"),
        ({"shares": [SHARES[0], {**SHARES[0], "share_ppm": 1}]}, 422, "shares[1].technology"),
        ({"shares": [SHARES[0], {**SHARES[1], "share_ppm": 700_000}]}, 422, "shares[1].share_ppm"),
        ({"shares": [{**SHARES[0], "hour_start": "2025-08-05T00:00:00"}]}, 422, "shares[0].hour_start"),
        ({"shares": []}, 422, "shares"),
        ({"shares": [{**SHARES[0], "zone": "ISLAND"}]}, 422, "shares"),
        ({"site_id": "S9"}, 404, None),
        ({"end": "2025-08-05T00:00:00Z"}, 422, "end"),
        ({"start": "2025-09-01T00:00:00Z", "end": "2025-09-02T00:00:00Z"}, 422, "period"),
    ],
)
def test_hostile_issuances_are_refused_and_append_nothing(
    clients: dict[str, httpx.Client], change: dict[str, Any], status: int, field: str | None
) -> None:
    grid = clients["grid"]
    reading = {"site_id": "S1", "meter_id": "m-x", "energy_wh": 1_000_000}
    reading |= {"interval_start": "2025-08-05T00:00:00Z", "interval_end": "2025-08-05T01:00:00Z"}
    grid.post("/readings", json=reading)  # once per module; later calls are duplicates and refused
    size = grid.get("/ledger/head").json()["size"]
    body = {"site_id": "S1", "start": "2025-08-05T00:00:00Z", "end": "2025-08-05T01:00:00Z"}
    body |= {"shares": [{**SHARES[0], "hour_start": "2025-08-05T00:00:00Z"}]} | change
    problem = _problem(grid.post("/certificates/issuances", json=body), status)
    if field is not None:
        assert (problem.get("field") or "").startswith(field), problem
    assert grid.get("/ledger/head").json()["size"] == size


def test_non_finite_share_is_refused(clients: dict[str, httpx.Client]) -> None:
    raw = json.dumps({"site_id": "S1", "start": HOURS[0], "end": HOURS[3], "shares": [SHARES[0]]})
    raw = raw.replace('"share_ppm": 400000', '"share_ppm": NaN')
    answer = clients["grid"].post("/certificates/issuances", content=raw, headers={"content-type": "application/json"})
    _problem(answer, 400, "NaN")
