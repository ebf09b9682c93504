"""Registry: licence lifecycle, kinds as data, eligibility, allocation import, audit trail."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TypedDict

import pytest
from platform_fixtures import HEADER, T0, World
from sqlalchemy import func, select

from offtake.errors import ConflictError, InputError, PermissionDenied
from offtake.ledger import store
from offtake.ledger.audit import list_audit
from offtake.ledger.encoding import decode_entry
from offtake.persistence.db import session_scope
from offtake.persistence.schema import Allocation, AuditEvent, LedgerEntry
from offtake.registry import allocations, contracts, kinds, licences, sites
from offtake.registry.eligibility import eligible_sites, site_power_limit_w

D = timedelta(days=1)

def test_lifecycle_allows_only_the_documented_transitions(world: World) -> None:
    with session_scope(world.factory) as s:
        lic = licences.apply_for_licence(s, world.op1, operator_id="op1", kind_id="ai_data_centre", licence_id="A1")
        assert lic.state == "applied"
        with pytest.raises(ConflictError, match="cannot become active"):
            licences.transition_licence(s, world.regulator, "A1", "active")
        with pytest.raises(PermissionDenied):
            licences.transition_licence(s, world.op1, "A1", "approved")
        with pytest.raises(PermissionDenied):
            licences.transition_licence(s, world.grid, "A1", "approved")
        for state in ("approved", "active", "suspended", "active", "revoked"):
            licences.transition_licence(s, world.regulator, "A1", state, reason=f"to {state}")
        with pytest.raises(ConflictError, match="allowed: none"):
            licences.transition_licence(s, world.regulator, "A1", "active")
        events = licences.licence_events(s, "A1")
        assert [(e.from_state, e.to_state) for e in events] == [
            (None, "applied"),
            ("applied", "approved"),
            ("approved", "active"),
            ("active", "suspended"),
            ("suspended", "active"),
            ("active", "revoked"),
        ]
        assert [e.by_client for e in events] == ["c-op1"] + ["reg"] * 5


def test_an_operator_cannot_apply_for_another(world: World) -> None:
    with session_scope(world.factory) as s, pytest.raises(PermissionDenied):
        licences.apply_for_licence(s, world.op1, operator_id="op2", kind_id="mining")
    with world.factory() as s:
        assert [x.id for x in licences.list_licences(s, world.op1)] == ["L1"]
        with pytest.raises(PermissionDenied):
            licences.get_licence(s, world.op1, "L2")


def test_a_site_without_an_active_licence_gets_no_power(world: World) -> None:
    csv = (
        "\n".join(
            [
                HEADER,
                "S1,op1,LESCO,mining,10,30,40,1,6,0.1,60,70.5,300000,200,40,5",
                "S2,op2,LESCO,mining,0,20,20,1,6,0.1,60,70.5,150000,200,40,5",
            ]
        )
        + "\n"
    )
    with session_scope(world.factory) as s:
        allocations.import_allocation(s, world.grid, "allocation.csv", valid_from=T0, text=csv)
    with world.factory() as s:
        assert [(e.site_id, e.limit_mw, e.firm_mw) for e in eligible_sites(s, T0 + D)] == [
            ("S1", 40.0, 10.0),
            ("S2", 20.0, 0.0),
        ]
    with session_scope(world.factory) as s:
        licences.transition_licence(s, world.regulator, "L2", "suspended", at=T0 + 2 * D, reason="audit")
    with world.factory() as s:
        assert [e.site_id for e in eligible_sites(s, T0 + 3 * D)] == ["S1"]
        assert site_power_limit_w(s, "S2", T0 + 3 * D) == 0
        # the past is kept: before the suspension S2 was eligible
        assert site_power_limit_w(s, "S2", T0 + D) == 20_000_000
        assert licences.licence_state_at(s, "L2", T0 + D) == "active"
        assert eligible_sites(s, T0 - D) == []  # before any licence was active


def test_licence_kinds_are_data_and_a_new_kind_needs_no_code(world: World) -> None:
    with world.factory() as s:
        ids = {k.id for k in kinds.list_licence_kinds(s)}
    assert {"mining", "ai_data_centre", "exchange", "wallet", "token_platform", "sandbox"} <= ids
    with session_scope(world.factory) as s:
        kinds.create_licence_kind(
            s,
            world.regulator,
            {
                "id": "stablecoin_issuer",
                "name": "Stablecoin issuer",
                "site_kinds": [],
                "limits": {"max_float_pkr": 1e9},
            },
        )
        with pytest.raises(PermissionDenied):
            kinds.create_licence_kind(s, world.grid, {"id": "x", "name": "x"})
        with pytest.raises(InputError, match="site_kinds"):
            kinds.create_licence_kind(s, world.regulator, {"id": "y", "site_kinds": ["steel"]})
        licences.apply_for_licence(s, world.regulator, operator_id="op1", kind_id="stablecoin_issuer", licence_id="X1")
        licences.transition_licence(s, world.regulator, "X1", "approved")
        licences.transition_licence(s, world.regulator, "X1", "active")
        licences.apply_for_licence(s, world.regulator, operator_id="op1", kind_id="exchange", licence_id="E1")
        # an exchange licence powers no site
        with pytest.raises(InputError, match="does not cover mining sites"):
            sites.attach_licence(s, world.grid, "S1", "E1")


def test_sandbox_licences_are_time_limited_and_capped(world: World) -> None:
    with session_scope(world.factory) as s:
        licences.apply_for_licence(s, world.regulator, operator_id="op1", kind_id="sandbox", licence_id="SB1", at=T0)
        licences.transition_licence(s, world.regulator, "SB1", "approved", at=T0)
        with pytest.raises(InputError, match="at most 180 days"):
            licences.transition_licence(s, world.regulator, "SB1", "active", at=T0, valid_until=T0 + 200 * D)
    with session_scope(world.factory) as s:
        lic = licences.transition_licence(s, world.regulator, "SB1", "active", at=T0)
        assert lic.valid_until == T0 + 180 * D
        sites.create_site(
            s,
            world.grid,
            site_id="SB-site",
            operator_id="op1",
            zone="IESCO",
            kind="ai",
            licence_id="SB1",
        )
        contracts.create_contract(
            s,
            world.grid,
            site_id="SB-site",
            valid_from=T0,
            tariff_usd_per_mwh="80",
            firm_mw=25,
            interruptible_mw=0,
            max_curtailment_fraction=0.3,
            max_curtailment_duration_h=4,
            annual_curtailment_limit=0.05,
            response_time_s=900,
            overdraw_tolerance_fraction=0.02,
            overdraw_penalty_usd_per_mwh=100,
            exchange_rate_pkr_per_usd="280.15",
        )
    with world.factory() as s:
        assert site_power_limit_w(s, "SB-site", T0 + D) == 10_000_000  # sandbox max_mw = 10
        assert site_power_limit_w(s, "SB-site", T0 + 181 * D) == 0  # expired


def test_allocation_import_reports_file_line_and_field(world: World, tmp_path: Path) -> None:
    path = tmp_path / "allocation.csv"
    good = "S9,op1,MEPCO,mining,5,15,20,1,6,0.1,60,70,100000,100,20,5"
    cases = [
        ("S9,op1,MEPCO,mining,5,15,21,1,6,0.1,60,70,100000,100,20,5", 2, "allocated_mw"),
        ("S9,op1,MEPCO,steel,5,15,20,1,6,0.1,60,70,100000,100,20,5", 2, "kind"),
        ("S9,op1,MEPCO,mining,5,x,20,1,6,0.1,60,70,100000,100,20,5", 2, "interruptible_mw"),
        (good + "\nS8,nobody,MEPCO,mining,5,15,20,1,6,0.1,60,70,100000,100,20,5", 3, "operator"),
        (good + "\nS1,op1,KE,mining,5,15,20,1,6,0.1,60,70,100000,100,20,5", 3, "zone"),
    ]
    for body, line, field in cases:
        path.write_text(HEADER + "\n" + body + "\n")
        with pytest.raises(InputError) as info, session_scope(world.factory) as s:
            allocations.import_allocation(s, world.grid, path, valid_from=T0)
        assert (info.value.file, info.value.line, info.value.field) == (str(path), line, field)
    path.write_text(HEADER.replace(",mean_event_h", "") + "\n")
    with pytest.raises(InputError) as info, session_scope(world.factory) as s:
        allocations.import_allocation(s, world.grid, path, valid_from=T0)
    assert info.value.field == "mean_event_h"
    with world.factory() as s:
        assert s.execute(select(func.count()).select_from(Allocation)).scalar_one() == 0
    path.write_text(HEADER + "\n" + good + "\n")
    with session_scope(world.factory) as s:
        result = allocations.import_allocation(s, world.grid, path, valid_from=T0)
        assert result.sites_created == ["S9"]
        with pytest.raises(PermissionDenied):
            allocations.import_allocation(s, world.op1, path, valid_from=T0)
        with pytest.raises(InputError, match="time zone"):
            allocations.import_allocation(s, world.grid, path, valid_from=T0.replace(tzinfo=None))


def test_every_write_is_audited_and_ledgered(world: World) -> None:
    with world.factory() as s:
        events = list_audit(s, world.regulator, limit=1000)
        entries = {e.seq: decode_entry(e.data) for e in store.entries(s, 0, 1000)}
        # 2 operators + 2 x (apply, approve, activate) + 2 sites
        assert len(events) == 10
        assert s.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 10
        for e in events:
            body = entries[e.ledger_seq]
            assert body["kind"] == "registry" and body["action"] == e.action and body["object_id"] == e.object_id
            assert body["by"] == e.client_id
        actions = [e.action for e in reversed(events)]
        assert actions[:2] == ["operator.create", "operator.create"]
        # operators see only their own trail
        own = list_audit(s, world.op1, limit=1000)
        assert own and {e.operator_id for e in own} == {"op1"}
        assert s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == 10


class Terms(TypedDict):
    """The terms of a contract, as ``create_contract`` takes them."""

    tariff_usd_per_mwh: float | str
    firm_mw: float
    interruptible_mw: float
    max_curtailment_fraction: float
    max_curtailment_duration_h: float
    annual_curtailment_limit: float
    response_time_s: float
    overdraw_tolerance_fraction: float
    overdraw_penalty_usd_per_mwh: float | str
    exchange_rate_pkr_per_usd: float | str


def test_contracts_may_not_overlap_and_money_is_exact(world: World) -> None:
    terms = Terms(
        tariff_usd_per_mwh=82.07,
        firm_mw=10,
        interruptible_mw=30,
        max_curtailment_fraction=1.0,
        max_curtailment_duration_h=6,
        annual_curtailment_limit=0.1,
        response_time_s=60,
        overdraw_tolerance_fraction=0.02,
        overdraw_penalty_usd_per_mwh="150.5",
        exchange_rate_pkr_per_usd=280.15,
    )
    with session_scope(world.factory) as s:
        c = contracts.create_contract(s, world.grid, site_id="S1", valid_from=T0, valid_until=T0 + 30 * D, **terms)
        assert (c.tariff_micro_usd_per_mwh, c.overdraw_penalty_micro_usd_per_mwh) == (
            82_070_000,
            150_500_000,
        )
        assert c.exchange_rate_micro_pkr_per_usd == 280_150_000 and c.overdraw_tolerance_bp == 200
        with pytest.raises(ConflictError, match="already has contract"):
            contracts.create_contract(s, world.grid, site_id="S1", valid_from=T0 + 10 * D, **terms)
        contracts.create_contract(s, world.grid, site_id="S1", valid_from=T0 + 30 * D, **terms)
        with pytest.raises(InputError, match="6 decimal places"):
            contracts.create_contract(
                s,
                world.grid,
                site_id="S2",
                valid_from=T0,
                **Terms({**terms, "tariff_usd_per_mwh": "1.0000001"}),
            )
        with pytest.raises(PermissionDenied):
            contracts.create_contract(s, world.op1, site_id="S1", valid_from=T0 + 90 * D, **terms)
    with world.factory() as s:
        assert [x.site_id for x in contracts.list_contracts(s, world.op2)] == []


def test_an_exhausted_energy_cap_stops_power(world: World) -> None:
    from offtake.ledger import MeterReading, ingest_readings

    with session_scope(world.factory) as s:
        licences.apply_for_licence(
            s,
            world.regulator,
            operator_id="op1",
            kind_id="sandbox",
            licence_id="SB2",
            at=T0,
            limits={"max_mw": 5, "max_energy_mwh": 10},
        )
        licences.transition_licence(s, world.regulator, "SB2", "approved", at=T0)
        licences.transition_licence(s, world.regulator, "SB2", "active", at=T0)
        sites.create_site(
            s, world.grid, site_id="T1", operator_id="op1", zone="KE", kind="mining", licence_id="SB2", connection_mw=5
        )
        contracts.create_contract(
            s,
            world.grid,
            site_id="T1",
            valid_from=T0,
            tariff_usd_per_mwh=80,
            firm_mw=0,
            interruptible_mw=8,
            max_curtailment_fraction=1,
            max_curtailment_duration_h=6,
            annual_curtailment_limit=0.1,
            response_time_s=60,
            overdraw_tolerance_fraction=0,
            overdraw_penalty_usd_per_mwh=100,
            exchange_rate_pkr_per_usd=280,
        )
        h = timedelta(hours=1)
        ingest_readings(
            s, world.op1, [MeterReading("T1", "m", T0 + i * h, T0 + (i + 1) * h, 4_000_000) for i in range(2)]
        )
    with world.factory() as s:
        assert site_power_limit_w(s, "T1", T0 + 2 * timedelta(hours=1)) == 5_000_000  # 8 of 10 MWh used
    with session_scope(world.factory) as s:
        ingest_readings(
            s, world.op1, [MeterReading("T1", "m", T0 + 2 * timedelta(hours=1), T0 + 3 * timedelta(hours=1), 2_000_000)]
        )
    with world.factory() as s:
        at = T0 + 4 * timedelta(hours=1)
        assert site_power_limit_w(s, "T1", at) == 0
        assert "T1" not in [e.site_id for e in eligible_sites(s, at)]
        assert "S1" in [e.site_id for e in eligible_sites(s, at)]


def test_an_applicant_cannot_set_its_own_limits_only_the_regulator_can(world: World) -> None:
    with session_scope(world.factory) as s:
        with pytest.raises(InputError) as info:
            licences.apply_for_licence(
                s, world.op1, operator_id="op1", kind_id="sandbox", licence_id="SB9", limits={"max_mw": 99_999}
            )
        assert info.value.field == "limits"
        licences.apply_for_licence(s, world.op1, operator_id="op1", kind_id="sandbox", licence_id="SB9", at=T0)
        with pytest.raises(PermissionDenied):
            licences.amend_licence_limits(s, world.op1, "SB9", {"max_mw": 99_999}, reason="more")
        with pytest.raises(PermissionDenied):
            licences.amend_licence_limits(s, world.grid, "SB9", {"max_mw": 99_999}, reason="more")
        with pytest.raises(InputError) as info:
            licences.transition_licence(s, world.regulator, "SB9", "approved", at=T0, limits={"max_mw": -1})
        assert info.value.field == "limits.max_mw"
        with pytest.raises(InputError, match="set at approval"):
            licences.transition_licence(s, world.regulator, "SB9", "revoked", at=T0, limits={"max_mw": 1})
        licences.transition_licence(s, world.regulator, "SB9", "approved", at=T0, limits={"max_mw": 8})
        licences.transition_licence(s, world.regulator, "SB9", "active", at=T0)
        sites.create_site(
            s, world.grid, site_id="T9", operator_id="op1", zone="KE", kind="mining", licence_id="SB9", connection_mw=50
        )
    with session_scope(world.factory) as s:
        lic = licences.amend_licence_limits(
            s, world.regulator, "SB9", {"max_mw": 6}, reason="trial narrowed", at=T0 + D
        )
        assert lic.limits == {"max_mw": 6}
        with pytest.raises(InputError) as info:
            licences.amend_licence_limits(s, world.regulator, "SB9", {"max_mw": 6}, reason=" ")
        assert info.value.field == "reason"
        with pytest.raises(InputError):
            licences.amend_licence_limits(s, world.regulator, "SB9", {"max_mw": float("inf")}, reason="x")
    with world.factory() as s:
        trail = [
            (e.action, e.detail) for e in list_audit(s, world.regulator, object_type="licence", object_id="SB9")
        ]
        by_action = {action: detail for action, detail in trail}
        assert by_action["licence.limits"]["from_limits"] == {"max_mw": 8}
        assert by_action["licence.limits"]["limits"] == {"max_mw": 6}
        assert by_action["licence.limits"]["reason"] == "trial narrowed"
        approval = [d for a, d in trail if a == "licence.transition" and d["to_state"] == "approved"]
        assert approval[0]["limits"] == {"max_mw": 8} and approval[0]["from_limits"] == {}
        assert licences.get_licence(s, world.op1, "SB9").limits == {"max_mw": 6}
