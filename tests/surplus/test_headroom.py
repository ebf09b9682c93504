"""Duke headroom: hand-worked cases, the paper's definitions, properties, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from offtake.errors import InputError
from offtake.surplus import HeadroomResult, duke_seasonal_threshold, headroom
from offtake.surplus.headroom import years_covered

# --- helpers: an independent, deliberately plain re-implementation of the definitions --------


def hourly(values: list[float] | np.ndarray, start: str = "2021-03-04 07:00", tz: str = "UTC") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="h", tz=tz)
    return pd.Series(np.asarray(values, dtype=float), index=index)


def brute_curtailment(demand: list[float], threshold: list[float], load_mw: float) -> list[float]:
    """Curt_t(L) = max(0, d + L - theta), clipped at L, hour by hour.

    Evaluated as L - (theta - d): the same number, but without losing a load far smaller than
    the demand to round-off (1 + 1e-12 - 1 is not 1e-12 in floating point).
    """
    return [
        min(load_mw, max(0.0, load_mw - (t - d))) for d, t in zip(demand, threshold, strict=True)
    ]


def brute_rate(demand: list[float], threshold: list[float], load_mw: float, years: float) -> float:
    return sum(brute_curtailment(demand, threshold, load_mw)) / (8760.0 * years * load_mw)


def brute_events(curtailed: list[bool]) -> int:
    events = 0
    previous = False
    for flag in curtailed:
        if flag and not previous:
            events += 1
        previous = flag
    return events


def bisect_headroom(
    demand: list[float], threshold: list[float], rate: float, years: float
) -> float:
    """Largest L with rate(L) <= r, by plain bisection on the brute-force rate.

    The brute-force rate is summed in floating point, so "<= r" allows a rounding error of
    1e-12: on a plateau where the rate equals r exactly the answer is the plateau's far end.
    """
    slack = 1e-12
    high = max(1.0, max(t - d for d, t in zip(demand, threshold, strict=True)))
    if brute_rate(demand, threshold, 1e-12 * high, years) > rate + slack:
        return 0.0
    for _ in range(200):  # bounded doubling until the rate exceeds r
        if brute_rate(demand, threshold, high, years) > rate + slack:
            break
        high *= 2.0
    low = 0.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if brute_rate(demand, threshold, mid, years) <= rate + slack:
            low = mid
        else:
            high = mid
    return low


def row(result: HeadroomResult, rate: float) -> pd.Series:
    """The table's row for ``rate`` (the first one if the rate was asked for twice)."""
    return result.table.loc[[rate]].iloc[0]


# --- hand-worked cases ------------------------------------------------------------------------


def test_four_hours_by_hand() -> None:
    # demand 6, 8, 10, 7 MW against a flat 12 MW: margins u = 6, 4, 2, 5; sorted 2, 4, 5, 6.
    # Four hours are N = 4/8760 years, so 8760 N = 4 and rate(L) = sum_t Curt_t(L) / (4 L).
    # r = 0:    firm level = min margin = 2.
    # r = 0.1:  on [2, 4] only the 2-margin hour is curtailed: (L - 2) / (4L) = 0.1 -> L = 10/3.
    # r = 0.25: rate(4) = 2/16 = 0.125, rate(5) = (3 + 1)/20 = 0.2 < 0.25, so L is in [5, 6]:
    #           (3L - 11) / (4L) = 0.25 -> L = 5.5. Check: 3.5 + 1.5 + 0.5 = 5.5 = 0.25 x 22.
    demand = hourly([6.0, 8.0, 10.0, 7.0])
    result = headroom(demand, 12.0, [0.0, 0.1, 0.25])
    assert result.firm_mw == 2.0
    assert (result.table["firm_mw"] == 2.0).all()
    assert result.years == pytest.approx(4 / 8760)
    assert result.headroom_mw(0.0) == pytest.approx(2.0)
    assert result.headroom_mw(0.1) == pytest.approx(10 / 3)
    assert result.headroom_mw(0.25) == pytest.approx(5.5)

    # At L = 5.5 hours 1, 2, 3 (margins 4, 2, 5) are curtailed: one event of 3 h. The load keeps
    # 4/5.5 = 73 %, 2/5.5 = 36 % and 5/5.5 = 91 %: two hours keep >= 50 %, one keeps >= 75 % and
    # one keeps >= 90 %. Per year: x 8760/4 = 2190.
    r = row(result, 0.25)
    assert r["curtailed_hours_per_year"] == pytest.approx(3 * 2190)
    assert r["events_per_year"] == pytest.approx(1 * 2190)
    assert r["mean_event_duration_h"] == pytest.approx(3.0)
    assert r["hours_kept_50pct_per_year"] == pytest.approx(2 * 2190)
    assert r["hours_kept_75pct_per_year"] == pytest.approx(1 * 2190)
    assert r["hours_kept_90pct_per_year"] == pytest.approx(1 * 2190)
    assert r["curtailed_energy_mwh_per_year"] == pytest.approx(5.5 * 2190)
    assert r["rate_achieved"] == pytest.approx(0.25, abs=1e-12)
    assert r["interruptible_mw"] == pytest.approx(3.5)

    # At L = 10/3 only hour 2 (margin 2) is curtailed and keeps 2/(10/3) = 60 %.
    r = row(result, 0.1)
    assert r["curtailed_hours_per_year"] == pytest.approx(2190)
    assert r["hours_kept_50pct_per_year"] == pytest.approx(2190)
    assert r["hours_kept_75pct_per_year"] == 0.0

    # At L = firm = 2 nothing is curtailed: the 2-margin hour is exactly full.
    r = row(result, 0.0)
    assert r["curtailed_hours_per_year"] == 0.0
    assert r["events_per_year"] == 0.0
    assert math.isnan(r["mean_event_duration_h"])


def test_clip_at_the_load_where_demand_exceeds_threshold() -> None:
    # demand 12, 8, 8, 8 against 10: u = -2, 2, 2, 2. Hour 0 is over the threshold already, so
    # any load is curtailed fully there (by L, not by 12 + L - 10): rate(L) >= 1/4 for all L.
    # r = 0.1 < 1/4: unreachable, headroom 0.
    # r = 0.25: rate is exactly 1/4 on (0, 2]; the largest such L is 2.
    # r = 0.5: on [2, inf): (L + 3(L - 2)) / (4L) = 0.5 -> 4L - 6 = 2L -> L = 3.
    #          The paper's unclipped formula would charge hour 0 with 5 MWh instead of 3.
    demand = hourly([12.0, 8.0, 8.0, 8.0])
    result = headroom(demand, 10.0, [0.1, 0.25, 0.5])
    assert result.firm_mw == 0.0
    assert not row(result, 0.1)["reachable"]
    assert result.headroom_mw(0.1) == 0.0
    assert math.isnan(row(result, 0.1)["rate_achieved"])
    assert row(result, 0.1)["curtailed_hours_per_year"] == 0.0
    assert result.headroom_mw(0.25) == pytest.approx(2.0)
    assert result.headroom_mw(0.5) == pytest.approx(3.0)
    assert row(result, 0.5)["curtailed_energy_mwh_per_year"] == pytest.approx(6.0 * 8760 / 4)
    assert row(result, 0.5)["reachable"]


def test_two_days_events_and_kept_shares_by_hand() -> None:
    # 48 h against a flat 100 MW; demand 90 (margin 10) except:
    #   hours 3-4 margin 3, hour 10 margin 1, hours 23-25 margin 4 (across midnight), hour 40
    #   margin 0.5.
    # At L = 5 the seven low-margin hours are curtailed: sum = 2+2+4+1+1+1+4.5 = 15.5 MWh,
    # 8760 N = 48, so rate(5) = 15.5 / 240. Ask for that rate and expect L = 5.
    # Runs: {3,4}, {10}, {23,24,25}, {40}: 4 events, 7 h, mean 1.75 h.
    # Kept >= 50 % (margin >= 2.5): 3,3,4,4,4 -> 5 h; >= 75 % (margin >= 3.75): 3 h; >= 90 %: 0.
    margins = np.full(48, 10.0)
    margins[[3, 4]] = 3.0
    margins[10] = 1.0
    margins[[23, 24, 25]] = 4.0
    margins[40] = 0.5
    demand = hourly(100.0 - margins, start="2024-06-01 00:00")
    rate = 15.5 / 240
    result = headroom(demand, 100.0, [rate])
    per_year = 8760 / 48
    r = row(result, rate)
    assert r["headroom_mw"] == pytest.approx(5.0)
    assert r["curtailed_hours_per_year"] == pytest.approx(7 * per_year)
    assert r["events_per_year"] == pytest.approx(4 * per_year)
    assert r["mean_event_duration_h"] == pytest.approx(1.75)
    assert r["hours_kept_50pct_per_year"] == pytest.approx(5 * per_year)
    assert r["hours_kept_75pct_per_year"] == pytest.approx(3 * per_year)
    assert r["hours_kept_90pct_per_year"] == 0.0


def test_events_touching_both_ends_of_the_series() -> None:
    # margins 1, 1, 9, 9, 1, 9, 1, 1 against L in (1, 9): runs {0,1}, {4}, {6,7} -> 3 events.
    # rate(L) = 5 (L - 1) / (8 L) -> choose L = 2: rate = 5/16.
    demand = hourly(10.0 - np.array([1, 1, 9, 9, 1, 9, 1, 1], dtype=float))
    result = headroom(demand, 10.0, [5 / 16])
    r = row(result, 5 / 16)
    assert r["headroom_mw"] == pytest.approx(2.0)
    assert r["events_per_year"] * result.years == pytest.approx(3)
    assert r["mean_event_duration_h"] == pytest.approx(5 / 3)


def test_kept_share_counts_an_exact_half() -> None:
    # margins 1, 2, 4, 4 (threshold 10): rate(2) = (2 - 1) / (4 x 2) = 1/8, a breakpoint, so the
    # headroom for r = 1/8 is exactly 2. The one curtailed hour (margin 1) keeps exactly 1 of
    # 2 MW, i.e. 50 %: it counts among the hours keeping "at least 50 %", not 75 %.
    result = headroom(hourly(10.0 - np.array([1.0, 2.0, 4.0, 4.0])), 10.0, [0.125])
    r = row(result, 0.125)
    assert r["headroom_mw"] == 2.0
    assert r["curtailed_hours_per_year"] * result.years == pytest.approx(1)
    assert r["hours_kept_50pct_per_year"] * result.years == pytest.approx(1)
    assert r["hours_kept_75pct_per_year"] == 0.0


def test_threshold_series_and_constant_agree() -> None:
    demand = hourly([6.0, 8.0, 10.0, 7.0])
    as_series = headroom(demand, pd.Series(12.0, index=demand.index), [0.1, 0.25])
    as_number = headroom(demand, 12, [0.1, 0.25])
    pd.testing.assert_frame_equal(as_series.to_frame(), as_number.to_frame())


# --- several years and the paper's energy definition ------------------------------------------


def two_calendar_years() -> tuple[pd.Series, float, float]:
    # 2023 (8760 h) and 2024 (8784 h, leap) in UTC, flat 100 MW threshold, demand 90 except ten
    # hours of 98 in July 2024 (margin 2). N = 2 (calendar years), so 8760 N = 17520 h.
    # rate(L) = 10 (L - 2) / (17520 L) for 2 <= L <= 10. For r = 0.0002:
    # 10 L - 20 = 3.504 L -> L = 20 / 6.496.
    index = pd.date_range("2023-01-01", "2025-01-01", freq="h", tz="UTC", inclusive="left")
    demand = pd.Series(90.0, index=index)
    spike = (index >= pd.Timestamp("2024-07-15 12:00", tz="UTC")) & (
        index < pd.Timestamp("2024-07-15 22:00", tz="UTC")
    )
    demand[spike] = 98.0
    return demand, 0.0002, 20 / 6.496


def test_several_years_average_of_yearly_rates() -> None:
    demand, rate, expected_mw = two_calendar_years()
    result = headroom(demand, 100.0, [rate])
    assert result.years == 2.0
    assert result.hours == 17544
    load_mw = result.headroom_mw(rate)
    assert load_mw == pytest.approx(expected_mw, rel=1e-12)

    # The paper: each calendar year's curtailed energy over L x 8760, then the mean of the years.
    yearly = []
    assert isinstance(demand.index, pd.DatetimeIndex)
    for year in (2023, 2024):
        part = demand[demand.index.year == year]
        curtailed = brute_curtailment(part.tolist(), [100.0] * len(part), load_mw)
        yearly.append(sum(curtailed) / (load_mw * 8760))
    assert yearly[0] == 0.0
    assert np.mean(yearly) == pytest.approx(rate, abs=1e-12)
    # Dividing by the hours actually covered (17,544) would give a different answer.
    assert brute_rate(demand.tolist(), [100.0] * len(demand), load_mw, 17544 / 8760) != (
        pytest.approx(rate, abs=1e-9)
    )


def test_paper_energy_definition() -> None:
    # CurtRate = curtailed energy per year / (L x 8760): the table's own columns must say so.
    demand, rate, _ = two_calendar_years()
    r = row(headroom(demand, 100.0, [rate]), rate)
    assert r["curtailed_energy_mwh_per_year"] / (r["headroom_mw"] * 8760) == pytest.approx(rate)
    assert r["rate_achieved"] == pytest.approx(rate, abs=1e-12)
    # ten curtailed hours in two years
    assert r["curtailed_hours_per_year"] == pytest.approx(5.0)
    assert r["events_per_year"] == pytest.approx(0.5)
    assert r["mean_event_duration_h"] == pytest.approx(10.0)


def test_year_count_depends_on_calendar_alignment() -> None:
    demand, _, _ = two_calendar_years()
    assert years_covered(pd.DatetimeIndex(demand.index)) == 2.0
    # The same instants are not whole calendar years in Pakistan time (UTC+5).
    karachi = years_covered(pd.DatetimeIndex(demand.index), timezone="Asia/Karachi")
    assert karachi == pytest.approx(17544 / 8760)
    # Whole years in a local zone: 2024 in Pakistan time is one year even though it has 8784 h.
    local = pd.date_range("2024-01-01", "2025-01-01", freq="h", tz="Asia/Karachi", inclusive="left")
    assert years_covered(local.tz_convert("UTC"), timezone="Asia/Karachi") == 1.0
    # A fiscal year (Jul-Jun) counts its hours: 8760 h -> 1 year, a 48 h window -> 48/8760.
    fiscal = pd.date_range("2024-07-01", "2025-07-01", freq="h", tz="UTC", inclusive="left")
    assert years_covered(fiscal) == pytest.approx(1.0)
    assert years_covered(fiscal[:48]) == pytest.approx(48 / 8760)
    # The timezone reaches headroom too.
    rate = 0.0002
    utc = headroom(demand, 100.0, [rate]).headroom_mw(rate)
    pk = headroom(demand, 100.0, [rate], timezone="Asia/Karachi").headroom_mw(rate)
    assert pk > utc  # N = 2.0027 in Karachi time against 2 in UTC: a lower rate per MW


# --- the exact solver against brute force and against the paper's own solver (root finding) -


margin_values = st.one_of(
    st.integers(min_value=-3, max_value=20).map(float),
    st.floats(min_value=-5.0, max_value=200.0, allow_nan=False, allow_infinity=False),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[float], list[float], list[float]]:
    n = draw(st.integers(min_value=1, max_value=60))
    margins = draw(st.lists(margin_values, min_size=n, max_size=n))
    demand = draw(st.lists(st.floats(min_value=0.0, max_value=1000.0), min_size=n, max_size=n))
    threshold = [d + m for d, m in zip(demand, margins, strict=True)]
    rates = draw(
        st.lists(
            st.one_of(
                st.sampled_from([0.0, 0.0025, 0.005, 0.01, 0.05, 0.5]),
                st.floats(min_value=0.0, max_value=0.99),
            ),
            min_size=1,
            max_size=5,
        )
    )
    return demand, threshold, rates


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_returned_load_has_the_requested_rate(case: tuple[list[float], list[float], list[float]]) -> None:
    demand, threshold, rates = case
    n = len(demand)
    years = n / 8760
    result = headroom(hourly(demand), hourly(threshold), rates)
    assert result.firm_mw == pytest.approx(max(0.0, min(np.subtract(threshold, demand))))
    for rate, (load_mw, reachable) in zip(
        rates, result.table[["headroom_mw", "reachable"]].itertuples(index=False), strict=True
    ):
        if reachable:
            assert load_mw > 0.0
            assert brute_rate(demand, threshold, load_mw, years) == pytest.approx(rate, abs=1e-9)
        else:
            assert load_mw == 0.0
            # even a vanishing load loses more than `rate`: hours already at/over the threshold
            over = sum(t - d <= 0 for d, t in zip(demand, threshold, strict=True))
            assert over / n > rate


@settings(max_examples=100, deadline=None)
@given(cases())
def test_agrees_with_bisection_and_is_monotonic(case: tuple[list[float], list[float], list[float]]) -> None:
    demand, threshold, rates = case
    years = len(demand) / 8760
    ordered = sorted(rates)
    result = headroom(hourly(demand), hourly(threshold), ordered)
    loads = result.table["headroom_mw"].to_numpy()
    assert np.all(np.diff(loads) >= -1e-9 * np.maximum(loads[1:], 1.0))
    for rate, load_mw in zip(ordered, loads, strict=True):
        expected = bisect_headroom(demand, threshold, rate, years)
        assert load_mw == pytest.approx(expected, rel=1e-7, abs=1e-7)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_event_and_kept_hour_counts_match_a_plain_loop(
    case: tuple[list[float], list[float], list[float]],
) -> None:
    demand, threshold, rates = case
    years = len(demand) / 8760
    result = headroom(hourly(demand), hourly(threshold), rates)
    for rate in rates:
        r = row(result, rate)  # the first of a rate drawn twice
        load_mw = float(r["headroom_mw"])
        if load_mw == 0.0:
            assert r["curtailed_hours_per_year"] == 0.0
            continue
        curt = brute_curtailment(demand, threshold, load_mw)
        flags = [c > 0.0 for c in curt]
        assert r["curtailed_hours_per_year"] * years == pytest.approx(sum(flags))
        assert r["events_per_year"] * years == pytest.approx(brute_events(flags))
        for share, column in ((0.5, "50"), (0.75, "75"), (0.9, "90")):
            kept = sum(
                f and load_mw - c >= share * load_mw - 1e-9
                for f, c in zip(flags, curt, strict=True)
            )
            got = r[f"hours_kept_{column}pct_per_year"] * years
            # a margin within round-off of share x L may fall either side
            edge = sum(
                f and abs(load_mw - c - share * load_mw) <= 1e-9
                for f, c in zip(flags, curt, strict=True)
            )
            assert kept - edge - 1e-9 <= got <= kept + 1e-9


def realistic_demand(years: int = 3, seed: int = 7) -> pd.Series:
    """Seeded synthetic hourly load: seasons, daily shape, multi-day weather spells, noise."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(
        "2022-01-01", f"{2022 + years}-01-01", freq="h", tz="UTC", inclusive="left"
    )
    hour = index.hour.to_numpy()
    phase = 2 * np.pi * (index.day_of_year.to_numpy() - 1) / 365.25
    summer = np.clip(np.cos(phase - 2 * np.pi * 200 / 365.25), 0.0, None) ** 2
    winter = np.clip(np.cos(phase - 2 * np.pi * 15 / 365.25), 0.0, None) ** 2
    n_days = len(index) // 24 + 2
    spell = np.zeros(n_days)
    shocks = rng.normal(0.0, 1.0, n_days)
    for i in range(1, n_days):
        spell[i] = 0.8 * spell[i - 1] + 0.6 * shocks[i]
    weather = np.interp(np.arange(len(index)) / 24, np.arange(n_days), spell)
    daily = 0.5 - 0.5 * np.cos(2 * np.pi * (hour - 4) / 24)
    evening = np.exp(-0.5 * ((hour - 19) / 1.5) ** 2)
    load = (
        0.55
        + 0.10 * daily
        + (0.22 + 0.05 * weather) * summer * daily
        + (0.12 + 0.04 * weather) * winter * (0.4 + 0.6 * evening)
        + 0.015 * rng.standard_normal(len(index))
    )
    return pd.Series(20_000.0 * load, index=index)


def test_agrees_with_root_finding_on_a_realistic_series() -> None:
    # The paper's solver: scipy root finding on CurtRate(L) - r. Brent's method to 1e-9 MW.
    demand = realistic_demand()
    threshold = duke_seasonal_threshold(demand)
    rates = [0.0025, 0.005, 0.01, 0.05]
    result = headroom(demand, threshold, rates)
    margins = np.maximum(threshold.to_numpy() - demand.to_numpy(), 0.0)

    def rate_of(load_mw: float) -> float:
        return float(np.maximum(load_mw - margins, 0.0).sum() / (8760 * 3 * load_mw))

    for rate in rates:
        root = brentq(lambda x, r=rate: rate_of(x) - r, 1e-3, 20_000.0, xtol=1e-9, rtol=1e-14)
        assert result.headroom_mw(rate) == pytest.approx(root, rel=1e-9)


def test_published_shape_on_a_realistic_series() -> None:
    # Not a match to the paper's GW (the series is synthetic), but the shape its table shows:
    # headroom, curtailed hours and mean event duration all grow with the rate, and most
    # curtailed hours keep at least half of the new load (the paper: 88 % on average).
    demand = realistic_demand()
    result = headroom(demand, duke_seasonal_threshold(demand), [0.0025, 0.005, 0.01, 0.05])
    table = result.table
    for column in ("headroom_mw", "curtailed_hours_per_year", "mean_event_duration_h"):
        assert table[column].is_monotonic_increasing, column
    kept50 = table["hours_kept_50pct_per_year"] / table["curtailed_hours_per_year"]
    assert (kept50 > 0.5).all()
    assert (table["hours_kept_50pct_per_year"] >= table["hours_kept_75pct_per_year"]).all()
    assert (table["hours_kept_75pct_per_year"] >= table["hours_kept_90pct_per_year"]).all()
    assert (table["interruptible_mw"] > 0).all()
    # the threshold is the series' own peak, so the peak hour has no margin: nothing is firm
    assert result.firm_mw == 0.0


# --- Duke seasonal threshold ------------------------------------------------------------------


def test_seasonal_threshold_month_mapping() -> None:
    # One UTC year; demand in month m is m * 100 + (hour-of-month index / 1000), so each month's
    # maximum is known: the summer peak is August's (max over Jun-Aug), the winter peak is
    # December's (max over Dec, Jan, Feb).
    index = pd.date_range("2023-01-01", "2024-01-01", freq="h", tz="UTC", inclusive="left")
    months = index.month.to_numpy()
    demand = pd.Series(months * 100.0 + (np.arange(len(index)) % 500) / 1000.0, index=index)
    threshold = duke_seasonal_threshold(demand)
    summer_peak = demand[(months >= 6) & (months <= 8)].max()
    winter_peak = demand[np.isin(months, [12, 1, 2])].max()
    assert summer_peak == pytest.approx(800.499)
    assert winter_peak == pytest.approx(1200.499)
    for month in range(1, 13):
        expected = summer_peak if 4 <= month <= 10 else winter_peak
        assert (threshold[months == month] == expected).all(), month
    assert threshold.index.equals(demand.index)
    assert threshold.name == "threshold_mw"

    # A peak window moved by one month (the paper's exception): September joins the summer max.
    moved = duke_seasonal_threshold(demand, summer_peak_months=(6, 7, 8, 9))
    assert (moved[months == 4] == demand[months == 9].max()).all()
    assert (moved[months == 1] == winter_peak).all()


def test_seasonal_threshold_uses_local_months() -> None:
    # 2023-03-31 19:00 UTC is 2023-04-01 00:00 in Karachi (UTC+5): April, so summer threshold.
    index = pd.date_range("2022-06-01", "2023-06-01", freq="h", tz="UTC", inclusive="left")
    demand = pd.Series(np.where(index.month.isin([6, 7, 8]), 50.0, 10.0), index=index)
    demand[index.month == 1] = 30.0
    edge = pd.Timestamp("2023-03-31 19:00", tz="UTC")
    utc = duke_seasonal_threshold(demand)
    pk = duke_seasonal_threshold(demand, timezone="Asia/Karachi")
    assert utc[edge] == 30.0  # still March in UTC: winter peak
    assert pk[edge] == 50.0  # April in Karachi: summer peak
    assert pk[edge - pd.Timedelta(hours=1)] == 30.0


def test_seasonal_threshold_needs_peak_months() -> None:
    # Only April: summer hours, but no June-August to take the summer peak from.
    demand = hourly(np.full(48, 10.0), start="2023-04-10 00:00")
    with pytest.raises(InputError, match="summer") as info:
        duke_seasonal_threshold(demand)
    assert info.value.field == "demand_mw"
    with pytest.raises(InputError, match="time zone"):
        duke_seasonal_threshold(hourly(np.ones(3), start="2023-07-01"), timezone="Mars/Olympus")
    with pytest.raises(InputError) as info:
        duke_seasonal_threshold(hourly(np.ones(3), start="2023-07-01"), summer_peak_months=(13,))
    assert info.value.field == "summer_peak_months"


# --- bad input ------------------------------------------------------------------------------


def test_refuses_naive_index() -> None:
    naive = pd.Series([1.0, 2.0], index=pd.date_range("2024-01-01", periods=2, freq="h"))
    with pytest.raises(InputError, match="naive") as info:
        headroom(naive, 10.0, [0.01])
    assert info.value.field == "demand_mw"
    aware = hourly([1.0, 2.0], start="2024-01-01")
    with pytest.raises(InputError, match="naive") as info:
        headroom(aware, pd.Series([5.0, 5.0], index=naive.index), [0.01])
    assert info.value.field == "threshold_mw"


def test_refuses_nan_and_infinite_values() -> None:
    with pytest.raises(InputError, match=r"2024-01-01 01:00:00\+00:00") as info:
        headroom(hourly([1.0, math.nan, 2.0], start="2024-01-01"), 10.0, [0.01])
    assert info.value.field == "demand_mw"
    with pytest.raises(InputError) as info:
        headroom(hourly([1.0, 2.0]), hourly([5.0, math.inf]), [0.01])
    assert info.value.field == "threshold_mw"
    with pytest.raises(InputError) as info:
        headroom(hourly([1.0, 2.0]), math.nan, [0.01])
    assert info.value.field == "threshold_mw"


def test_refuses_mismatched_index() -> None:
    demand = hourly([1.0, 2.0, 3.0], start="2024-01-01")
    for threshold in (
        hourly([5.0, 5.0, 5.0], start="2024-01-01 01:00"),
        hourly([5.0, 5.0], start="2024-01-01"),
    ):
        with pytest.raises(InputError, match="differs") as info:
            headroom(demand, threshold, [0.01])
        assert info.value.field == "threshold_mw"
    # The same instants in another zone are the same index.
    assert isinstance(demand.index, pd.DatetimeIndex)
    same = pd.Series([5.0, 5.0, 5.0], index=demand.index.tz_convert("Asia/Karachi"))
    assert headroom(demand, same, [0.0]).firm_mw == 2.0


@pytest.mark.parametrize(
    "index",
    [
        pd.date_range("2024-01-01", periods=4, freq="30min", tz="UTC"),
        pd.DatetimeIndex(
            ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 03:00", "2024-01-01 04:00"],
            tz="UTC",
        ),
        pd.DatetimeIndex(
            ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 01:00", "2024-01-01 02:00"],
            tz="UTC",
        ),
    ],
    ids=["half-hourly", "gap", "duplicate"],
)
def test_refuses_irregular_or_non_hourly_steps(index: pd.DatetimeIndex) -> None:
    with pytest.raises(InputError, match="regular hourly") as info:
        headroom(pd.Series([1.0, 2.0, 3.0, 4.0], index=index), 10.0, [0.01])
    assert info.value.field == "demand_mw"


@pytest.mark.parametrize("rates", [[], [-0.01], [1.0], [math.nan], ["0.01"], "0.01", [True]])
def test_refuses_bad_rates(rates: object) -> None:
    with pytest.raises(InputError) as info:
        headroom(hourly([1.0, 2.0]), 10.0, rates)  # type: ignore[arg-type]  # hostile input on purpose
    assert info.value.field == "rates"


def test_refuses_other_bad_series() -> None:
    with pytest.raises(InputError, match="Series"):
        headroom([1.0, 2.0], 10.0, [0.01])  # type: ignore[arg-type]  # a list, not a Series, on purpose
    with pytest.raises(InputError, match="DatetimeIndex"):
        headroom(pd.Series([1.0, 2.0]), 10.0, [0.01])
    with pytest.raises(InputError, match="empty"):
        headroom(hourly([]), 10.0, [0.01])
    with pytest.raises(InputError, match="numeric"):
        headroom(pd.Series(["a", "b"], index=hourly([1.0, 2.0]).index), 10.0, [0.01])
    with pytest.raises(InputError, match="time zone") as info:
        headroom(hourly([1.0, 2.0]), 10.0, [0.01], timezone="Nowhere/Land")
    assert info.value.field == "timezone"


def test_headroom_mw_lookup_names_missing_rate() -> None:
    result = headroom(hourly([6.0, 8.0]), 12.0, [0.0])
    with pytest.raises(KeyError, match=r"0\.5"):
        result.headroom_mw(0.5)


def test_plateau_where_the_rate_equals_the_limit() -> None:
    # 9 of 36 hours have no margin, so every load loses 9/36 = 25 % of its energy up to L = 1 MW,
    # where the next 26 hours (margin 1 MW) start to be curtailed: the 25 % headroom is 1 MW.
    demand = [0.0] * 36
    threshold = [0.0] * 9 + [1.0] * 26 + [5.0]
    result = headroom(hourly(demand), hourly(threshold), [0.25])
    assert result.headroom_mw(0.25) == pytest.approx(1.0)
    assert bisect_headroom(demand, threshold, 0.25, 36 / 8760) == pytest.approx(1.0)


@pytest.mark.parametrize("n", [2, 3, 7, 10, 29, 49])
def test_a_rate_equal_to_the_share_of_hours_already_at_the_threshold_keeps_the_plateau(n: int) -> None:
    # k of n hours have no margin: any load loses exactly k/n of its energy up to the next margin,
    # so for the rate k/n the headroom is that margin (the plateau's far end), not 0 by round-off
    for k in range(1, n):
        threshold = [0.0] * k + [0.35] * (n - k)
        result = headroom(hourly([0.0] * n), hourly(threshold), [k / n])
        assert result.table["headroom_mw"].iloc[0] == pytest.approx(0.35, abs=1e-9), (n, k)
