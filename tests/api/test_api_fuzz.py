"""Property-based fuzzing of every route in the OpenAPI document, for every role.

schemathesis draws requests from the document (paths, query parameters, request bodies of the
REST and OpenADR routes alike) and sends them to a real uvicorn server on 127.0.0.1. For each
role (control room, regulator, an operator, a VEN) and without a token, every answer must be
below 500 and match the document: a declared status, a declared media type, a body of the
declared schema. Bounded: four requests drawn per route, each sent as every role (about 2,000 requests in all,
30-40 s on a busy 2-core machine).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from platform_fixtures import Live
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

ROLES = {"grid": "grid_operator", "regulator": "regulator", "op1": "operator", "ven1": "ven", "": "anonymous"}
#: Requests drawn per route (each sent as every role); the 3.0.1 OpenADR dialect (same code as
#: 3.1.0) gets fewer. ``OFFTAKE_FUZZ_EXAMPLES=200`` digs deeper by hand.
EXAMPLES = int(os.environ.get("OFFTAKE_FUZZ_EXAMPLES", "4"))
LEGACY_EXAMPLES = max(1, EXAMPLES // 4)
#: ``positive`` draws requests the document allows; ``negative`` ones it forbids (then a 4xx is due).
MODE = GenerationMode(os.environ.get("OFFTAKE_FUZZ_MODE", "positive"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


#: Where drawn webhook subscriptions point: loopback, a port nobody listens on.
LOOPBACK_HOOK = "http://127.0.0.1:9/fuzz"


def _loopback_hooks(data: Any) -> Any:
    """Point every ``callbackUrl`` of a drawn body at :data:`LOOPBACK_HOOK` (no call leaves the host)."""
    if isinstance(data, dict):
        return {k: LOOPBACK_HOOK if k == "callbackUrl" else _loopback_hooks(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_loopback_hooks(item) for item in data]
    return data


def _fuzz_operation(operation: Any, call: Callable[[Any], None], examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=MODE), _nothing=st.just(None))
    def run(case: Any, _nothing: None) -> None:
        call(case)

    run()


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_every_route_for_every_role_answers_below_500_and_as_documented(live: Live) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    tokens = {name: live.token(name) if name else "" for name in ROLES}
    failures: list[str] = []
    counts = {"requests": 0}
    started = time.monotonic()
    headers: dict[str, dict[str, str]] = {
        name: {"Authorization": f"Bearer {token}"} if token else {} for name, token in tokens.items()
    }
    with httpx.Client(base_url=live.url, headers=headers["grid"]) as seed:  # something to find
        program = seed.post("/openadr3/3.1.0/programs", json={"programName": "fuzz"}).json()
        seed.post("/openadr3/3.1.0/events", json={"programID": program["id"], "intervals": []})
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"schemathesis cannot read an operation of the document: {result}"
        operation = result.ok()

        def call(case: Any, label: str = operation.label) -> None:  # one drawn request, sent as every role
            if "callbackUrl" in str(case.body):
                case.body = _loopback_hooks(case.body)
            for name, role in ROLES.items():
                counts["requests"] += 1
                try:
                    case.call_and_validate(base_url=live.url, headers=headers[name], checks=CHECKS)
                except Exception as exc:  # schemathesis raises one group of every failed check
                    failures.append(f"{role}: {label}: {str(exc).strip()[:600]}")

        legacy = "/openadr3/3.0.1/" in operation.path
        _fuzz_operation(operation, call, LEGACY_EXAMPLES if legacy else EXAMPLES)
    elapsed = time.monotonic() - started
    assert counts["requests"] > 4 * len(spec["paths"]), counts
    assert not failures, f"{len(failures)} failures in {counts['requests']} requests ({elapsed:.0f} s):\n" + "\n".join(
        failures[:20]
    )
