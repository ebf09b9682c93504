"""Tenancy matrix: every REST route x every role x own, another operator's and an unknown object.

The table gives the status each role gets. Op1's operator client and the VEN of op1's site
S1 are the tenants: for them another operator's object and an unknown one must be answered
alike (same status, same body once the id is swapped), and no answer they get may carry
another operator's data. Writes are sent with a body that fails after authorisation, so the
matrix changes nothing. Every route of the API must be in the table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from platform_fixtures import Live

from offtake.identity.principal import Principal
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.registry import contracts

ROLES = ("grid", "regulator", "office", "op1", "ven1", "anonymous")
TENANTS = ("op1", "ven1")

#: Ids of each kind of object: op1's own, op2's (another tenant's), and one that does not exist.
OBJECTS: dict[str, tuple[str, str, str]] = {
    "site": ("S1", "S2", "S9"),
    "operator": ("op1", "op2", "op9"),
    "licence": ("L1", "L2", "L9"),
    "contract": ("C1", "C2", "C9"),
    "entry": ("{seq1}", "{seq2}", "999999"),
    "certificate": ("{cert1}", "{cert2}", "GC-999999-0"),
}

#: Marks of another operator's data that must never reach op1's clients.
FOREIGN = ('"S2"', '"op2"', '"L2"', '"C2"', "'S2'", "op2 staff")

READING = {
    "site_id": "{id}",
    "meter_id": "m-matrix",
    "interval_start": "2025-07-01T01:00:00Z",
    "interval_end": "2025-07-01T00:00:00Z",  # ends before it starts: 422 once allowed
    "energy_wh": 1,
}
MONTH = {"start": "2025-07-01T00:00:00Z", "end": "2025-08-01T00:00:00Z"}

Expect = int | tuple[int, int, int]


@dataclass(frozen=True)
class Row:
    """One route: how to call it and what each role gets (a status, or own/other/unknown)."""

    method: str
    path: str
    kind: str | None  # the object the path parameter or the {id} in the query or body names
    expect: dict[str, Expect]
    params: dict[str, Any] | None = None
    body: Any = None


def _all(code: int, **others: Expect) -> dict[str, Expect]:
    return {role: others.get(role, code) for role in ROLES[:-1]}


SEEN = (200, 200, 404)  # grid and regulator see every object; unknown is 404
MINE = (200, 404, 404)  # a tenant sees its own; another's reads like an unknown one

TABLE: list[Row] = [
    Row("GET", "/operators", None, _all(200, ven1=403)),
    Row("POST", "/operators", None, _all(422, op1=403, ven1=403), body={"id": "bad id!", "name": "x"}),
    Row("GET", "/operators/{operator_id}", "operator", _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403)),
    Row("GET", "/licence-kinds", None, _all(200, ven1=403)),
    Row("POST", "/licence-kinds", None, _all(403, regulator=422), body={}),
    Row("GET", "/licences", None, _all(200, ven1=403)),
    Row(
        "POST",
        "/licences",
        "operator",
        _all(403, regulator=422, op1=(422, 404, 404)),
        body={"operator_id": "{id}", "kind_id": "no-such-kind"},
    ),
    Row("GET", "/licences/{licence_id}", "licence", _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403)),
    Row(
        "POST",
        "/licences/{licence_id}/transitions",
        "licence",
        _all(403, regulator=422),
        body={"to_state": "nonsense"},
    ),
    Row(
        "PUT",
        "/licences/{licence_id}/limits",
        "licence",
        _all(403, regulator=422),
        body={"limits": {"max_mw": -1}, "reason": "matrix"},
    ),
    Row("GET", "/sites", None, _all(200, ven1=403)),
    Row("POST", "/sites", None, _all(403, grid=422), body={}),
    Row("GET", "/sites/{site_id}", "site", _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=MINE)),
    Row("PUT", "/sites/{site_id}/licence", "site", _all(403, grid=(422, 422, 404)), body={"licence_id": "L9"}),
    Row("GET", "/contracts", None, _all(200, ven1=403)),
    Row("POST", "/contracts", None, _all(403, grid=422), body={}),
    Row("GET", "/contracts/{contract_id}", "contract", _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403)),
    Row("POST", "/allocations/import", None, _all(403, grid=422)),
    Row("GET", "/allocations", None, _all(200, ven1=403)),
    Row("GET", "/eligibility", None, _all(200, ven1=403)),
    Row("GET", "/audit", None, _all(200, ven1=403)),
    Row(
        "GET",
        "/readings",
        "site",
        _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403),
        params={"site_id": "{id}"},
    ),
    Row(
        "POST",
        "/readings",
        "site",
        _all(422, regulator=403, op1=(422, 404, 404), ven1=(422, 404, 404)),
        body=READING,
    ),
    Row(
        "POST",
        "/readings/batch",
        "site",
        _all(422, regulator=403, op1=(422, 404, 404), ven1=(422, 404, 404)),
        body={"readings": [READING]},
    ),
    Row(
        "GET",
        "/caps",
        "site",
        _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=MINE),
        params={"site_id": "{id}"},
    ),
    Row("POST", "/caps", None, _all(403, grid=422), body={}),
    Row("GET", "/ledger/head", None, _all(200, ven1=403)),
    Row("GET", "/ledger/public-key", None, _all(200, ven1=403)),
    Row("GET", "/ledger/checkpoints", None, _all(200, ven1=403)),
    Row("POST", "/ledger/checkpoints", None, _all(200, op1=403, ven1=403)),
    Row("GET", "/ledger/checkpoints/latest", None, _all(200, ven1=403)),
    Row("GET", "/ledger/entries/{seq}", "entry", _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403)),
    Row("GET", "/ledger/entries", None, _all(200, ven1=403)),
    Row(
        "GET",
        "/ledger/proofs/inclusion",
        "entry",
        _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403),
        params={"seq": "{id}"},
    ),
    Row("GET", "/ledger/proofs/consistency", None, _all(200, ven1=403), params={"first": "1"}),
    Row(
        "GET",
        "/sites/{site_id}/reconciliation",
        "site",
        _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403),
        params=MONTH,
    ),
    Row("GET", "/sites/{site_id}/bills/{month}", "site", _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403)),
    Row("POST", "/sites/{site_id}/bills", "site", _all(403, grid=422), body={}),
    Row("GET", "/sites/{site_id}/bills", "site", _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403)),
    Row(
        "GET",
        "/dispatch/caps",
        "site",
        _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=MINE),
        params={"site_id": "{id}"},
    ),
    Row("GET", "/dispatch/rounds", None, _all(200, op1=403, ven1=403)),
    Row("GET", "/dispatch/emergency", None, _all(200)),
    Row("POST", "/dispatch/emergency", None, _all(403, grid=422), body={}),
    Row("POST", "/dispatch/emergency/{emergency_id}/clear", None, _all(403, grid=404)),
    Row("POST", "/certificates/issuances", None, _all(403, grid=422), body={}),
    Row("GET", "/certificates", "operator", _all(200, op1=MINE, ven1=403), params={"holder": "{id}"}),
    Row("GET", "/certificates/retirements", "operator", _all(200, op1=MINE, ven1=403), params={"holder": "{id}"}),
    Row("GET", "/certificates/export", None, _all(200, op1=403, ven1=403)),
    Row(
        "GET",
        "/certificates/{certificate_id}",
        "certificate",
        _all(200, grid=SEEN, regulator=SEEN, op1=MINE, ven1=403),
    ),
    Row(  # more Wh than anyone holds: a 409 for the holder once it may see the certificate
        "POST",
        "/certificates/{certificate_id}/transfers",
        "certificate",
        _all(403, op1=(409, 404, 404)),
        body={"to": "op2", "volume_wh": 10**15},
    ),
    Row(
        "POST",
        "/certificates/{certificate_id}/retirements",
        "certificate",
        _all(403, op1=(409, 404, 404)),
        body={"volume_wh": 10**15, "beneficiary": "matrix", "claim": "matrix"},
    ),
]

#: Reads the programme office may not make (it holds no readings:read); it writes nothing.
OFFICE_DENIED = {"/readings", "/sites/{site_id}/reconciliation"}


def _office(row: Row) -> Expect:
    """The programme office reads what the regulator reads, but for meter readings, and writes nothing."""
    if row.method != "GET" or row.path in OFFICE_DENIED:
        return 403
    return row.expect["regulator"]


TABLE = [replace(row, expect={**row.expect, "office": _office(row)}) for row in TABLE]

#: Routes outside the matrix, and why.
EXEMPT = {("POST", "/auth/token"): "the token endpoint is where a caller authenticates (tests/api/test_limits.py)"}


@dataclass
class Matrix:
    live: Live
    clients: dict[str, httpx.Client]
    seqs: dict[str, str]


@pytest.fixture(scope="module")
def matrix(live: Live) -> Iterator[Matrix]:
    engine = make_engine(live.settings.database_url)
    grid = Principal("grid", "grid_operator", scopes=frozenset({"registry:write"}))
    with session_scope(make_session_factory(engine)) as s:
        for contract_id, site_id in (("C1", "S1"), ("C2", "S2")):
            contracts.create_contract(
                s,
                grid,
                contract_id=contract_id,
                site_id=site_id,
                valid_from=datetime(2025, 7, 1, tzinfo=UTC),
                tariff_usd_per_mwh=80,
                firm_mw=0,
                interruptible_mw=5,
                max_curtailment_fraction=1,
                max_curtailment_duration_h=6,
                annual_curtailment_limit=0.1,
                response_time_s=60,
                overdraw_tolerance_fraction=0,
                overdraw_penalty_usd_per_mwh=100,
                exchange_rate_pkr_per_usd=280,
            )
    engine.dispose()
    clients = {name: live.http(name) for name in ("grid", "regulator", "office", "op1", "ven1")}
    clients["anonymous"] = httpx.Client(base_url=f"{live.url}/api/v1")
    seqs = {}
    for name, site in (("seq1", "S1"), ("seq2", "S2")):
        reading = {**READING, "site_id": site, "interval_start": "2025-07-02T00:00:00Z"}
        reading["interval_end"] = "2025-07-02T00:15:00Z"
        r = clients["grid"].post("/readings", json=reading)
        assert r.status_code in (200, 201), r.text
        seqs[name] = str(r.json()["items"][0]["seq"])
    for name, site in (("cert1", "S1"), ("cert2", "S2")):  # one certificate of each operator
        hour = {"start": "2025-07-03T00:00:00Z", "end": "2025-07-03T01:00:00Z"}
        reading = {**READING, "site_id": site, "interval_start": hour["start"], "interval_end": hour["end"]}
        r = clients["grid"].post("/readings", json={**reading, "energy_wh": 1_000_000})
        assert r.status_code in (200, 201), r.text
        share = {"zone": "LESCO", "hour_start": hour["start"], "technology": "solar_pv", "share_ppm": 400_000}
        r = clients["grid"].post("/certificates/issuances", json={"site_id": site, **hour, "shares": [share]})
        assert r.status_code == 201, r.text
        seqs[name] = str(r.json()["certificates"][0]["id"])
    assert clients["grid"].post("/ledger/checkpoints").status_code in (200, 201)
    try:
        yield Matrix(live, clients, seqs)
    finally:
        for client in clients.values():
            client.close()


def _fill(value: Any, object_id: str) -> Any:
    return json.loads(json.dumps(value).replace("{id}", object_id)) if value is not None else None


#: Path parameters that are not the object of the row.
FIXED = {"month": "2025-07", "emergency_id": "EM-NONE"}


def _call(matrix: Matrix, row: Row, role: str, object_id: str) -> httpx.Response:
    object_id = object_id.format(**matrix.seqs)
    path = re.sub(r"\{(\w+)\}", lambda m: FIXED.get(m.group(1), object_id), row.path)
    return matrix.clients[role].request(
        row.method,
        path,
        params=_fill(row.params, object_id),
        json=_fill(row.body, object_id),
    )


#: The role of each client of the matrix.
CLIENT_ROLES = {
    "grid": "grid_operator",
    "regulator": "regulator",
    "office": "programme_office",
    "op1": "operator",
    "ven1": "ven",
}


def test_every_role_is_in_the_matrix() -> None:
    from offtake.identity.principal import ROLES as IDENTITY_ROLES

    missing = set(IDENTITY_ROLES) - set(CLIENT_ROLES.values())
    assert not missing, f"roles without a column in the tenancy matrix: {sorted(missing)}"


def test_every_route_is_in_the_matrix(matrix: Matrix) -> None:
    spec = httpx.get(f"{matrix.live.url}/openapi.json").json()
    routes = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, operations in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    }
    listed = {(row.method, row.path) for row in TABLE}
    assert not routes - listed - set(EXEMPT), f"routes missing from the matrix: {sorted(routes - listed - set(EXEMPT))}"
    assert not listed - routes, f"rows for routes that do not exist: {sorted(listed - routes)}"


@pytest.mark.parametrize("row", TABLE, ids=[f"{r.method} {r.path}" for r in TABLE])
def test_each_role_gets_the_status_in_the_table(matrix: Matrix, row: Row) -> None:
    ids = OBJECTS[row.kind] if row.kind else ("-", "-", "-")
    for role in ROLES:
        expected = row.expect.get(role, 401)
        wanted = expected if isinstance(expected, tuple) else (expected,) * 3
        answers = [_call(matrix, row, role, object_id) for object_id in ids]
        got = tuple(a.status_code for a in answers)
        assert got == wanted, (role, row.method, row.path, [a.text[:300] for a in answers])
        for answer in answers:
            assert answer.status_code < 500
            if answer.status_code >= 400:
                assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
                assert answer.json()["detail"]
        if role in TENANTS:
            for answer in answers:
                if answer.status_code == 200:
                    hits = [mark for mark in FOREIGN if mark in answer.text]
                    assert not hits, (role, row.path, hits, answer.text[:300])
            if row.kind is not None:
                other, unknown = answers[1], answers[2]
                other_id, unknown_id = (i.format(**matrix.seqs) for i in ids[1:])
                assert other.status_code == unknown.status_code
                assert other.text == unknown.text.replace(unknown_id, other_id), (role, row.path)
