"""Surplus: the cut enumeration equals the LP, and the LP dispatch keeps every rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offtake import scenario
from offtake.grid import Baseline, least_cost_dispatch
from offtake.grid.extra_load import ExtraLoadDispatch, max_extra_load
from offtake.surplus import assess_surplus, tariff_curve
from offtake.surplus.assess import surplus_arrays
from offtake.surplus.network import ZoneCuts

DATA = Path(__file__).parents[1] / "data"
TOL_MW = 1e-6


@pytest.fixture(scope="module")
def three() -> scenario.Scenario:
    return scenario.load(DATA / "three-zone")


@pytest.fixture(scope="module")
def three_baseline(three: scenario.Scenario) -> Baseline:
    return least_cost_dispatch(three)


@pytest.fixture(scope="module")
def pk() -> scenario.Scenario:
    return scenario.load("pakistan-2025")


@pytest.fixture(scope="module")
def pk_baseline(pk: scenario.Scenario) -> Baseline:
    return least_cost_dispatch(pk)


def check_dispatch_rules(s: scenario.Scenario, baseline: Baseline, lp: ExtraLoadDispatch, tariff: float) -> None:
    """Invariants of an extra-load dispatch: demand met, units within limits, corridors, reserve."""
    fleet = baseline.fleet
    idx = lp.intervals
    gen = lp.generation_mw
    avail = fleet.available_mw[idx]
    # no unit above its availability
    assert (gen <= avail + TOL_MW).all()
    # no unit above the tariff produces more than in the baseline
    expensive = fleet.marginal_cost_usd_per_mwh > tariff
    assert (gen[:, expensive] <= baseline.generation_mw[idx][:, expensive] + TOL_MW).all()
    # must-run output taken
    assert (
        gen[:, fleet.must_run]
        >= np.minimum(baseline.generation_mw[idx][:, fleet.must_run], avail[:, fleet.must_run]) - TOL_MW
    ).all()
    # contractual minimum off-take held by the groups the dispatch chooses
    free = fleet.free
    assert (gen[:, free] >= fleet.min_output_mw[idx][:, free] - TOL_MW).all()
    # corridors within limits
    for k, c in enumerate(s.corridors):
        assert (lp.flow_mw[:, k] <= c.forward_mw + TOL_MW).all()
        assert (-lp.flow_mw[:, k] <= c.reverse_mw + TOL_MW).all()
    # spill never above the baseline's
    assert (lp.spilled_mw <= baseline.spilled_mw[idx] + TOL_MW).all()
    # every zone balances: generation + imports = demand + extra + spill (demand always met)
    demand = s.demand_mw.to_numpy()[idx]
    for zi, z in enumerate(s.zone_ids):
        injection = gen[:, fleet.zone_index == zi].sum(axis=1)
        for k, c in enumerate(s.corridors):
            if c.from_zone == z:
                injection = injection - lp.flow_mw[:, k]
            if c.to_zone == z:
                injection = injection + lp.flow_mw[:, k]
        assert np.allclose(injection, demand[:, zi] + lp.extra_mw[:, zi] + lp.spilled_mw[:, zi], atol=1e-5)
    # reserve kept on dispatchable units
    reserve = s.reserve_requirement_mw().to_numpy()[idx]
    headroom = (avail - gen)[:, fleet.dispatchable].sum(axis=1)
    assert (headroom >= reserve - 1e-5).all()


def test_baseline_meets_demand(three: scenario.Scenario, three_baseline: Baseline) -> None:
    assert three_baseline.unserved_mw.max() < TOL_MW
    assert three_baseline.reserve_short_mw.max() < TOL_MW
    # merit order: the oil units are the most expensive and run least
    fleet = three_baseline.fleet
    flexible = ~fleet.must_run & fleet.dispatchable
    energy_mwh = three_baseline.generation_mw[:, flexible].sum(axis=0)
    assert energy_mwh[np.argmax(fleet.marginal_cost_usd_per_mwh[flexible])] <= energy_mwh.min() + TOL_MW
    assert three_baseline.fuel_cost_usd > 0


@pytest.mark.parametrize("tariff", [0.0, 50.0, 80.0, 115.0, 150.0])
@pytest.mark.parametrize("zone", ["north", "south", "city", None])
def test_cuts_equal_lp_every_hour(
    three: scenario.Scenario, three_baseline: Baseline, tariff: float, zone: str | None
) -> None:
    zone_mw, national_mw = surplus_arrays(three, three_baseline, tariff)
    idx = np.arange(len(three.index))
    lp = max_extra_load(three, three_baseline, tariff, idx, zone)
    expected = national_mw if zone is None else zone_mw[:, three.zone_ids.index(zone)]
    assert np.allclose(lp.extra_mw.sum(axis=1), expected, atol=1e-6)
    check_dispatch_rules(three, three_baseline, lp, tariff)


def _variant(tmp: Path, must_run: set[str], added: list[str], reserve_fraction: float) -> scenario.Scenario:
    """The three-zone week with some plants made must-run, plants added and another reserve share."""
    root = tmp / "variant"
    shutil.copytree(DATA / "three-zone", root)
    plants = root / "plants.csv"
    lines = plants.read_text(encoding="utf-8").splitlines()
    rows = [lines[0]]
    for line in lines[1:]:
        fields = line.split(",")
        if fields[0] in must_run:
            fields[5] = "true"
        rows.append(",".join(fields))
    plants.write_text("\n".join([*rows, *added]) + "\n", encoding="utf-8")
    toml = root / "scenario.toml"
    text = toml.read_text(encoding="utf-8")
    assert "fraction_of_demand = 0.03" in text
    toml.write_text(text.replace("fraction_of_demand = 0.03", f"fraction_of_demand = {reserve_fraction}"), "utf-8")
    return scenario.load(root)


#: Networks where must-run wind and solar meet a binding reserve, and where must-run output spills.
VARIANTS = {
    "variable-must-run": ({"Wind South", "Solar South"}, [], 0.03),
    "variable-must-run-tight-reserve": ({"Wind South", "Solar South"}, [], 0.4),
    "spill": ({"Solar South"}, ["Wind North,wind,north,2500,0,true,wind_south"], 0.1),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cuts_equal_lp_with_variable_must_run_and_spill(tmp_path: Path, variant: str) -> None:
    must_run, added, fraction = VARIANTS[variant]
    s = _variant(tmp_path, must_run, added, fraction)
    baseline = least_cost_dispatch(s)
    fleet = baseline.fleet
    assert (fleet.must_run & fleet.variable).any()
    if variant == "spill":
        assert (baseline.spilled_mw.sum(axis=1) > 1.0).sum() >= 10
    idx = np.flatnonzero(~baseline.short)
    assert len(idx) >= len(s.index) // 2
    for tariff in (50.0, 80.0, 150.0):
        zone_mw, national_mw = surplus_arrays(s, baseline, tariff)
        for zone in [*s.zone_ids, None]:
            lp = max_extra_load(s, baseline, tariff, idx, zone)
            expected = national_mw[idx] if zone is None else zone_mw[idx, s.zone_ids.index(zone)]
            assert np.allclose(lp.extra_mw.sum(axis=1), expected, atol=1e-5), (tariff, zone)
            check_dispatch_rules(s, baseline, lp, tariff)


#: Minimum loadings of the fuel-contract network: a cheap unit, one near and one above the tariffs tried.
MIN_OUTPUT = {"Coal South": "0.5", "Gas City": "0.6", "Oil North": "0.3"}


def _with_min_output(tmp: Path, floors: dict[str, str]) -> scenario.Scenario:
    """The three-zone week with the optional ``min_output_pu`` column (fuel contracts)."""
    root = tmp / "contracts"
    shutil.copytree(DATA / "three-zone", root)
    plants = root / "plants.csv"
    lines = plants.read_text(encoding="utf-8").splitlines()
    rows = [lines[0] + ",min_output_pu"] + [line + "," + floors.get(line.split(",")[0], "") for line in lines[1:]]
    plants.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return scenario.load(root)


def test_cuts_equal_lp_with_minimum_offtake(tmp_path: Path, three: scenario.Scenario) -> None:
    """Minimum loadings are lower bounds in the cuts exactly as in the LP, and they change the surplus.

    They may raise it as well as lower it: a floor on a unit above the tariff makes the baseline
    run it, and what it displaces is then free for extra load.
    """
    s = _with_min_output(tmp_path, MIN_OUTPUT)
    baseline = least_cost_dispatch(s)
    fleet = baseline.fleet
    floored = fleet.min_output_mw.max(axis=0) > 0
    assert floored.sum() == 3
    assert (baseline.generation_mw >= fleet.min_output_mw - TOL_MW).all()
    # the oil floor makes the baseline run oil it would not run otherwise
    oil = [i for i, name in enumerate(fleet.names) if name.startswith("north|oil")]
    assert (baseline.generation_mw[:, oil] > 1.0).all()
    idx = np.flatnonzero(~baseline.short)
    assert len(idx) == len(s.index)
    plain = least_cost_dispatch(three)
    changed = False
    for tariff in (50.0, 80.0, 150.0):
        zone_mw, national_mw = surplus_arrays(s, baseline, tariff)
        zone_plain, _ = surplus_arrays(three, plain, tariff)
        changed |= not np.allclose(zone_mw, zone_plain, atol=1.0)
        for zone in [*s.zone_ids, None]:
            lp = max_extra_load(s, baseline, tariff, idx, zone)
            expected = national_mw if zone is None else zone_mw[:, s.zone_ids.index(zone)]
            assert np.allclose(lp.extra_mw.sum(axis=1), expected, atol=1e-5), (tariff, zone)
            check_dispatch_rules(s, baseline, lp, tariff)
    assert changed


def test_variable_must_run_does_not_draw_on_the_reserve_pool(tmp_path: Path) -> None:
    """Flagging wind and solar must-run leaves the surplus as it was: they are taken either way."""
    plain = _variant(tmp_path / "plain", set(), [], 0.4)
    flagged = _variant(tmp_path / "flagged", {"Wind South", "Solar South"}, [], 0.4)
    for tariff in (80.0, 150.0):
        z_plain, n_plain = surplus_arrays(plain, least_cost_dispatch(plain), tariff)
        z_flag, n_flag = surplus_arrays(flagged, least_cost_dispatch(flagged), tariff)
        assert z_plain.max() > 0
        assert np.allclose(z_plain, z_flag, atol=1e-6) and np.allclose(n_plain, n_flag, atol=1e-6)


def test_cuts_equal_lp_on_pakistan_sample(pk: scenario.Scenario, pk_baseline: Baseline) -> None:
    rng = np.random.default_rng(7)
    idx = np.sort(rng.choice(len(pk.index), size=48, replace=False))
    tariff = pk.default_tariff_usd_per_mwh
    zone_mw, national_mw = surplus_arrays(pk, pk_baseline, tariff)
    for zone in ("KE", "QESCO", "LESCO", "THAR", None):
        lp = max_extra_load(pk, pk_baseline, tariff, idx, zone)
        expected = national_mw[idx] if zone is None else zone_mw[idx, pk.zone_ids.index(zone)]
        assert np.allclose(lp.extra_mw.sum(axis=1), expected, atol=1e-4), zone
        check_dispatch_rules(pk, pk_baseline, lp, tariff)


def test_pakistan_baseline_meets_demand(pk: scenario.Scenario, pk_baseline: Baseline) -> None:
    assert pk_baseline.unserved_mw.max() < TOL_MW
    assert pk_baseline.reserve_short_mw.max() < TOL_MW
    assert pk_baseline.spilled_mw.max() < TOL_MW


def test_zone_alone_never_above_national(pk: scenario.Scenario, pk_baseline: Baseline) -> None:
    r = assess_surplus(pk, baseline=pk_baseline)
    assert (r.zone_mw.to_numpy() <= r.national_mw.to_numpy()[:, None] + TOL_MW).all()
    assert (r.zone_mw.to_numpy() >= 0).all()
    # the KE zone is limited by its interconnection: never more than its own spare plus import limit
    ke = pk.zone_ids.index("KE")
    ke_avail = pk_baseline.fleet.available_mw[:, pk_baseline.fleet.zone_index == ke].sum(axis=1)
    link = next(c for c in pk.corridors if c.id == "ke-interconnection")
    assert (r.zone_mw["KE"].to_numpy() <= ke_avail + link.forward_mw - pk.demand_mw["KE"].to_numpy() + TOL_MW).all()


def test_surplus_grows_with_tariff(three: scenario.Scenario, three_baseline: Baseline) -> None:
    previous = None
    for tariff in (0, 40, 60, 80, 100, 130):
        zone_mw, national_mw = surplus_arrays(three, three_baseline, float(tariff))
        if previous is not None:
            assert (zone_mw >= previous[0] - TOL_MW).all()
            assert (national_mw >= previous[1] - TOL_MW).all()
        previous = (zone_mw, national_mw)


def test_tariff_curve_shape(three: scenario.Scenario, three_baseline: Baseline) -> None:
    curve = tariff_curve(three, three_baseline, [0.0, 50.0, 100.0, 150.0])
    assert set(curve["area"]) == {"north", "south", "city", "national"}
    nat = curve[curve["area"] == "national"].set_index("tariff_usd_per_mwh")
    # more MW available in 50 % of hours than in 99 %
    assert (nat["mw_in_50pct_of_hours"] >= nat["mw_in_99pct_of_hours"]).all()
    assert nat["mw_in_90pct_of_hours"].is_monotonic_increasing
    # the quantile really is the level exceeded in that share of hours
    _, national_mw = surplus_arrays(three, three_baseline, 100.0)
    p90 = nat["mw_in_90pct_of_hours"].loc[100.0]
    assert (national_mw >= p90 - TOL_MW).mean() >= 0.9


def test_no_surplus_when_demand_cannot_be_met(three: scenario.Scenario) -> None:
    short = scenario.Scenario(**{**three.__dict__, "demand_mw": three.demand_mw * 3})
    baseline = least_cost_dispatch(short)
    assert baseline.unserved_mw.sum() > 0
    zone_mw, national_mw = surplus_arrays(short, baseline, 150.0)
    hours = baseline.unserved_mw.sum(axis=1) > 1e-6
    assert (zone_mw[hours] == 0).all() and (national_mw[hours] == 0).all()


def _line_network(caps: list[float]) -> ZoneCuts:
    arcs = []
    for i, cap in enumerate(caps):
        arcs += [(i, i + 1, cap), (i + 1, i, cap)]
    return ZoneCuts.from_arcs(len(caps) + 1, arcs)


def test_cut_enumeration_hand_case() -> None:
    # Two zones A-B joined by 100 MW. A: 500 MW spare capacity, demand 200; B: 150 capacity, demand 100.
    # Pool without reserve limit. Extra at B: min(B alone 150-100+100 import = 150, both: 650-300 = 350) = 150.
    # Extra at A: min(A alone 500-200+100 = 400, both 350) = 350. National: 350.
    cuts = ZoneCuts.from_arcs(2, [(0, 1, 100.0), (1, 0, 100.0)])
    zone, national = cuts.surplus_mw(
        dispatchable_mw=np.array([[500.0, 150.0]]),
        variable_mw=np.zeros((1, 2)),
        must_run_mw=np.zeros((1, 2)),
        demand_mw=np.array([[200.0, 100.0]]),
        pool_mw=np.array([1e9]),
    )
    assert zone.tolist() == [[350.0, 150.0]]
    assert national.tolist() == [350.0]
    # A reserve that leaves only 500 MW for all dispatchable units caps everything at 500 - 300 = 200.
    zone, national = cuts.surplus_mw(
        np.array([[500.0, 150.0]]), np.zeros((1, 2)), np.zeros((1, 2)), np.array([[200.0, 100.0]]), np.array([500.0])
    )
    assert zone.tolist() == [[200.0, 150.0]] and national.tolist() == [200.0]


@settings(max_examples=25, deadline=None)
@given(
    caps=st.lists(st.floats(0, 500), min_size=2, max_size=3),
    data=st.data(),
)
def test_cut_enumeration_matches_lp_on_random_lines(caps: list[float], data: st.DataObject) -> None:
    """On random line networks the enumeration equals an LP solved by scipy's HiGHS."""
    from scipy.optimize import linprog

    n = len(caps) + 1
    disp = np.array(data.draw(st.lists(st.floats(0, 1000), min_size=n, max_size=n)))
    demand = np.array([data.draw(st.floats(0, float(d))) for d in disp])
    must = np.array([data.draw(st.floats(0, float(d))) for d in demand])
    cuts = _line_network(caps)
    pool = float(disp.sum())
    zone_mw, _national_mw = cuts.surplus_mw(disp[None], np.zeros((1, n)), must[None], demand[None], np.array([pool]))
    for target in range(n):
        # variables: gen (n), flow (n-1), extra; maximise extra at target
        nv = n + (n - 1) + 1
        c = np.zeros(nv)
        c[-1] = -1
        a_eq = np.zeros((n, nv))
        for i in range(n):
            a_eq[i, i] = 1
        for k in range(n - 1):
            a_eq[k, n + k] -= 1
            a_eq[k + 1, n + k] += 1
        a_eq[target, -1] = -1
        bounds = [(must[i], disp[i]) for i in range(n)] + [(-cap, cap) for cap in caps] + [(0, None)]
        res = linprog(c, A_eq=a_eq, b_eq=demand, bounds=bounds, method="highs")
        if res.status != 0:
            continue  # baseline itself infeasible: nothing to compare
        assert abs(-res.fun - zone_mw[0, target]) < 1e-6 * max(1.0, -res.fun)
