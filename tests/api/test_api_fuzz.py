"""Property-based fuzzing of every route in the OpenAPI document, for every role.

schemathesis draws requests from the document (paths, query parameters, request bodies of the
REST and OpenADR routes alike) and sends them to a real uvicorn server on 127.0.0.1. Each drawn
request is sent as every role (control room, regulator, an operator, a VEN) and without a token;
every answer must be below 500 and match the document: a declared status, a declared media type,
a body of the declared schema. Two passes: requests the document allows (``positive``), and
requests it forbids (``negative``, where a 4xx is due).

Bounded for CI: four positive and one negative request drawn per route (one positive for the
3.0.1 OpenADR dialect, the same code as 3.1.0), about 2,500 requests, 40-50 s on a busy 2-core
machine. ``OFFTAKE_FUZZ_EXAMPLES=60`` digs deeper by hand (60 per route: about 6 minutes).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
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
#: Requests drawn per route in the positive pass; the negative pass and the 3.0.1 dialect get a quarter.
EXAMPLES = int(os.environ.get("OFFTAKE_FUZZ_EXAMPLES", "4"))
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


def _examples(mode: GenerationMode, path: str) -> int:
    if mode is GenerationMode.POSITIVE and "/openadr3/3.0.1/" not in path:
        return EXAMPLES
    return max(1, EXAMPLES // 4)


def _fuzz_operation(operation: Any, mode: GenerationMode, call: Callable[[Any], None]) -> None:
    @settings(
        max_examples=_examples(mode, operation.path),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), _nothing=st.just(None))
    def run(case: Any, _nothing: None) -> None:
        call(case)

    try:
        run()
    except Unsatisfiable:  # negative pass: a route whose every input is valid has nothing to break
        assert mode is GenerationMode.NEGATIVE


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_route_for_every_role_answers_below_500_and_as_documented(live: Live, mode: GenerationMode) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    headers: dict[str, dict[str, str]] = {
        name: {"Authorization": f"Bearer {live.token(name)}"} if name else {} for name in ROLES
    }
    with httpx.Client(base_url=live.url, headers=headers["grid"]) as seed:  # something to find
        program = seed.post("/openadr3/3.1.0/programs", json={"programName": f"fuzz-{mode}"}).json()
        seed.post("/openadr3/3.1.0/events", json={"programID": program["id"], "intervals": []})
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"schemathesis cannot read an operation of the document: {result}"
        operation = result.ok()

        def call(case: Any, label: str = operation.label) -> None:  # one drawn request, sent as every role
            nonlocal sent
            if "callbackUrl" in str(case.body):
                case.body = _loopback_hooks(case.body)
            for name, role in ROLES.items():
                sent += 1
                try:
                    case.call_and_validate(base_url=live.url, headers=headers[name], checks=CHECKS)
                except Exception as exc:  # schemathesis raises one group of every failed check
                    failures.append(f"{role}: {label}: {str(exc).strip()[:600]}")

        _fuzz_operation(operation, mode, call)
    assert sent >= len(ROLES) * len(spec["paths"]), sent
    assert not failures, f"{len(failures)} failures in {sent} requests:\n" + "\n".join(failures[:20])
