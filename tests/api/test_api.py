"""The REST API over a real uvicorn server on 127.0.0.1: tokens, roles, errors, proofs."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
from platform_fixtures import Live

from offtake.ledger import merkle
from offtake.ledger.encoding import parse_time
from offtake.ledger.signing import CheckpointStatement, load_public_key

READING = {
    "site_id": "S1",
    "meter_id": "m1",
    "interval_start": "2025-07-01T00:00:00Z",
    "interval_end": "2025-07-01T01:00:00Z",
    "energy_wh": 30_000_000,
}


def test_health_and_openapi(live: Live) -> None:
    assert httpx.get(f"{live.url}/healthz").json()["status"] == "ok"
    # The document is built on first request (about a second alone, more on a busy machine).
    spec = httpx.get(f"{live.url}/openapi.json", timeout=60).json()
    assert "/api/v1/readings/batch" in spec["paths"] and "/api/v1/auth/token" in spec["paths"]


def test_token_endpoint_accepts_basic_and_form_credentials(live: Live) -> None:
    c = live.clients["op1"]
    token_url = f"{live.url}/api/v1/auth/token"
    by_basic = httpx.post(token_url, data={"grant_type": "client_credentials"}, auth=(c.client_id, c.client_secret))
    by_form = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "scope": "readings:read registry:read",
        },
    )
    assert by_basic.status_code == by_form.status_code == 200
    body = by_form.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "readings:read registry:read"
    assert "readings:write" in by_basic.json()["scope"].split()
    assert by_basic.headers["cache-control"] == "no-store"
    # a token narrowed to read scopes cannot write
    r = httpx.post(
        f"{live.url}/api/v1/readings",
        json=READING,
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert r.status_code == 403 and "readings:write" in r.json()["detail"]


def test_token_errors_are_clear_json(live: Live) -> None:
    c = live.clients["op1"]
    token_url = f"{live.url}/api/v1/auth/token"
    bad = httpx.post(token_url, data={"grant_type": "client_credentials"}, auth=(c.client_id, "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert (
        httpx.post(token_url, data={"grant_type": "password"}, auth=(c.client_id, c.client_secret)).json()["error"]
        == "unsupported_grant_type"
    )
    scope = httpx.post(
        token_url,
        data={"grant_type": "client_credentials", "scope": "licences:write"},
        auth=(c.client_id, c.client_secret),
    )
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        r = httpx.get(f"{live.url}/api/v1/sites", headers=headers)
        assert r.status_code == 401 and r.json()["detail"] and r.headers["www-authenticate"].startswith("Bearer")
    # a token signed with another secret is refused
    token = live.token("op1")
    header, payload, _sig = token.split(".")
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(b'x' * 32).rstrip(b'=').decode()}"
    assert httpx.get(f"{live.url}/api/v1/sites", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_an_operator_cannot_read_or_write_another_operators_anything(live: Live) -> None:
    with live.http("grid") as grid:
        assert grid.post(
            "/caps",
            json={
                "caps": [
                    {
                        "site_id": "S2",
                        "interval_start": "2025-07-01T00:00:00Z",
                        "interval_end": "2025-07-01T01:00:00Z",
                        "cap_mw": 5,
                    }
                ]
            },
        ).status_code in (200, 201)
        r = grid.post("/readings", json={**READING, "site_id": "S2", "energy_wh": 1000})
        assert r.status_code in (200, 201)
        seq_s2 = r.json()["items"][0]["seq"]
    with live.http("op1") as op1:
        # another operator's objects read exactly like unknown ones: 404, the same detail
        def pair(method: str, path: str, foreign: str, unknown: str, **kwargs: Any) -> tuple[httpx.Response, ...]:
            def call(value: str) -> httpx.Response:
                fill = {k: json.loads(json.dumps(v).replace("{id}", value)) for k, v in kwargs.items()}
                return op1.request(method, path.replace("{id}", value), **fill)

            return call(foreign), call(unknown)

        hidden = [
            (pair("GET", "/sites/{id}", "S2", "S9"), "S2", "S9"),
            (pair("GET", "/operators/{id}", "op2", "op9"), "op2", "op9"),
            (pair("GET", "/licences/{id}", "L2", "L9"), "L2", "L9"),
            (pair("GET", "/readings", "S2", "S9", params={"site_id": "{id}"}), "S2", "S9"),
            (pair("GET", "/caps", "S2", "S9", params={"site_id": "{id}"}), "S2", "S9"),
            (pair("GET", "/sites/{id}/bills/2025-07", "S2", "S9"), "S2", "S9"),
            (pair("POST", "/readings", "S2", "S9", json={**READING, "site_id": "{id}"}), "S2", "S9"),
            (pair("POST", "/licences", "op2", "op9", json={"operator_id": "{id}", "kind_id": "mining"}), "op2", "op9"),
        ]
        for (foreign, unknown), foreign_id, unknown_id in hidden:
            assert foreign.status_code == 404, (foreign.request.method, foreign.request.url, foreign.text)
            assert foreign.text == unknown.text.replace(unknown_id, foreign_id), (foreign.text, unknown.text)
        entry = op1.get(f"/ledger/entries/{seq_s2}")
        assert entry.status_code == 404 and entry.json()["detail"] == f"ledger entry {seq_s2} does not exist"
        assert op1.get("/ledger/proofs/inclusion", params={"seq": seq_s2}).status_code == 404
        reconciliation = {"start": "2025-07-01T00:00:00Z", "end": "2025-08-01T00:00:00Z"}
        foreign_r = op1.get("/sites/S2/reconciliation", params=reconciliation)
        assert foreign_r.status_code == 404
        assert foreign_r.text == op1.get("/sites/S9/reconciliation", params=reconciliation).text.replace("S9", "S2")
        forbidden = [
            op1.post("/sites", json={"id": "S3", "operator_id": "op1", "zone": "LESCO", "kind": "mining"}),
            op1.post(
                "/caps",
                json={
                    "caps": [
                        {
                            "site_id": "S1",
                            "interval_start": "2025-07-01T00:00:00Z",
                            "interval_end": "2025-07-01T01:00:00Z",
                            "cap_mw": 5,
                        }
                    ]
                },
            ),
            op1.post("/licences/L1/transitions", json={"to_state": "suspended"}),
            op1.post("/sites/S2/bills", json={"month": "2025-07"}),
            op1.post("/operators", json={"id": "op9", "name": "x"}),
        ]
        for r in forbidden:
            assert r.status_code == 403, (r.request.method, r.request.url, r.text)
            assert r.json()["detail"]
        # lists are filtered to its own
        assert [s["id"] for s in op1.get("/sites").json()["sites"]] == ["S1"]
        assert [o["id"] for o in op1.get("/operators").json()["operators"]] == ["op1"]
        assert {lic["operator_id"] for lic in op1.get("/licences").json()["licences"]} == {"op1"}
        assert all(
            e["entry"].get("operator") in ("op1", None)
            and e["entry"].get("detail", {}).get("operator_id", "op1") == "op1"
            for e in op1.get("/ledger/entries").json()["entries"]
        )
        events = op1.get("/audit").json()["events"]
        assert events and {e["operator_id"] for e in events} == {"op1"}
        assert op1.get("/sites/S1").status_code == 200


def test_readings_over_http_duplicates_conflicts_and_errors(live: Live) -> None:
    with live.http("ven1") as ven:
        first = ven.post("/readings", json=READING)
        assert first.status_code == 201
        seq = first.json()["items"][0]["seq"]
        again = ven.post("/readings", json=READING)
        assert again.status_code == 200 and again.json()["items"][0] == {
            "index": 0,
            "status": "duplicate",
            "seq": seq,
        }
        conflict = ven.post("/readings", json={**READING, "energy_wh": 31_000_000})
        assert conflict.status_code == 409 and "already has a reading" in conflict.json()["detail"]
        naive = ven.post(
            "/readings/batch",
            json={"readings": [READING, {**READING, "interval_start": "2025-07-01T00:00:00"}]},
        )
        assert naive.status_code == 422 and naive.json()["field"] == "readings[1].interval_start"
        assert "time zone" in naive.json()["detail"]
        for body, field in (
            (
                {
                    **READING,
                    "energy_wh": -5,
                    "interval_start": "2025-07-02T00:00:00Z",
                    "interval_end": "2025-07-02T01:00:00Z",
                },
                "energy_wh",
            ),
            ({**READING, "energy_wh": 1.5}, "energy_wh"),
            ({**READING, "energy_wh": "12"}, "energy_wh"),
            ({k: v for k, v in READING.items() if k != "meter_id"}, "meter_id"),
            (
                {
                    **READING,
                    "interval_start": "2025-07-01T00:30:00Z",
                    "interval_end": "2025-07-01T01:30:00Z",
                },
                "interval_start",
            ),
        ):
            r = ven.post("/readings", json=body)
            assert r.status_code == 422, r.text
            assert r.json()["field"].endswith(field), r.json()
        assert ven.post("/readings", json={**READING, "site_id": "S2"}).status_code == 404
        r = ven.post("/readings", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"]
    with live.http("grid") as grid:
        r = grid.post("/readings", json={**READING, "site_id": "ghost"})
        assert r.status_code == 422 and r.json()["field"] == "readings[0].site_id"
        assert grid.get("/no/such/thing").status_code == 404
        assert grid.delete("/sites").status_code == 405


def test_proofs_and_checkpoints_over_http_verify(live: Live) -> None:
    with live.http("regulator") as reg:
        assert reg.post("/ledger/checkpoints").status_code in (200, 201)
        head = reg.get("/ledger/head").json()
        key = load_public_key(reg.get("/ledger/public-key").json()["raw"])
        cp = reg.get("/ledger/checkpoints/latest").json()
        statement = CheckpointStatement(
            cp["size"],
            bytes.fromhex(cp["root"]),
            parse_time(cp["signed_at"]),
            cp["key_id"],
            bytes.fromhex(cp["signature"]),
        )
        assert statement.verify(key)
        size, root = head["size"], bytes.fromhex(head["root"])
        assert cp["size"] == size and cp["root"] == head["root"]
        for seq in range(size):
            proof = reg.get("/ledger/proofs/inclusion", params={"seq": seq, "size": size}).json()
            entry = reg.get(f"/ledger/entries/{seq}").json()
            leaf = merkle.leaf_hash(entry["data"].encode())
            assert leaf.hex() == proof["leaf_hash"]
            assert merkle.verify_inclusion(leaf, seq, size, [bytes.fromhex(h) for h in proof["path"]], root)
        older = reg.get("/ledger/checkpoints").json()["checkpoints"][0]
        c = reg.get("/ledger/proofs/consistency", params={"first": older["size"], "second": size}).json()
        assert merkle.verify_consistency(
            older["size"],
            size,
            bytes.fromhex(older["root"]),
            root,
            [bytes.fromhex(h) for h in c["path"]],
        )
        bad = reg.get("/ledger/proofs/inclusion", params={"seq": size + 5})
        assert bad.status_code == 404
        assert reg.get("/ledger/proofs/consistency", params={"first": size + 1}).status_code == 422


def test_registry_flow_over_http(live: Live) -> None:
    csv = (
        "site_id,operator,zone,kind,firm_mw,interruptible_mw,allocated_mw,max_curtailment_fraction,"
        "max_curtailment_duration_h,annual_curtailment_limit,response_time_s,tariff_usd_per_mwh,"
        "expected_energy_mwh,curtailed_hours,curtailment_events,mean_event_h\n"
        "S7,op2,HESCO,ai,30,0,30,0.3,4,0.05,900,85,250000,50,10,3\n"
    )
    with live.http("regulator") as reg, live.http("grid") as grid, live.http("op2") as op2:
        r = op2.post("/licences", json={"operator_id": "op2", "kind_id": "ai_data_centre", "id": "AI-7"})
        assert r.status_code == 201 and r.json()["state"] == "applied"
        assert reg.post("/licences/AI-7/transitions", json={"to_state": "active"}).status_code == 409
        for state in ("approved", "active"):
            assert reg.post("/licences/AI-7/transitions", json={"to_state": state, "reason": "ok"}).status_code == 200
        assert grid.post("/licences/AI-7/transitions", json={"to_state": "suspended"}).status_code == 403
        imp = grid.post(
            "/allocations/import",
            params={"valid_from": "2025-07-01T00:00:00Z"},
            content=csv,
            headers={"content-type": "text/csv"},
        )
        assert imp.status_code == 201 and imp.json()["sites_created"] == ["S7"]
        bad = grid.post(
            "/allocations/import",
            params={"valid_from": "2025-07-01T00:00:00Z"},
            content=csv.replace("HESCO,ai,30", "HESCO,ai,x"),
            headers={"content-type": "text/csv"},
        )
        assert (
            bad.status_code == 422 and bad.json()["field"] == "firm_mw" and "allocation.csv:2" in bad.json()["detail"]
        )
        assert grid.put("/sites/S7/licence", json={"licence_id": "AI-7"}).status_code == 200
        eligible = grid.get("/eligibility").json()["sites"]
        s7 = next(s for s in eligible if s["site_id"] == "S7")
        assert (s7["limit_mw"], s7["firm_mw"], s7["licence_id"]) == (30.0, 30.0, "AI-7")
        before = grid.get("/eligibility", params={"at": "2025-07-01T00:00:00Z"}).json()["sites"]
        assert "S7" not in [s["site_id"] for s in before]
        lic = op2.get("/licences/AI-7").json()
        assert [e["to_state"] for e in lic["events"]] == ["applied", "approved", "active"]
        assert lic["events"][0]["by"] == live.clients["op2"].client_id
        audit = reg.get("/audit", params={"object_id": "AI-7"}).json()["events"]
        assert [e["action"] for e in audit] == [
            "licence.transition",
            "licence.transition",
            "licence.apply",
        ]
        r = grid.post(
            "/contracts",
            json={"site_id": "S7", "valid_from": "2025-07-01T00:00:00", "tariff_usd_per_mwh": 85},
        )
        assert r.status_code == 422 and r.json()["errors"]


def test_tokens_expire(live: Live) -> None:
    from offtake.identity.credentials import AuthError, decode_token

    token = live.token("op1")
    claims = decode_token(live.settings.load_token_secret(), token)
    try:
        decode_token(live.settings.load_token_secret(), token, now_s=claims["exp"] + 1)
    except AuthError as exc:
        assert "expired" in exc.message
    else:
        raise AssertionError("an expired token was accepted")
    assert claims["exp"] - claims["iat"] == 3600 and claims["exp"] > time.time()
