"""Build the bundled ``pakistan-2025`` scenario from published facts.

Run from the repository root::

    python tools/pakistan_2025/build.py [--out DIR]

Inputs, all in this folder, each number with its source:

- ``facts.toml``: monthly and annual generation, seasonal ranges, daily shapes, zone shares, corridors,
  reserve rule, technology costs and availabilities, seasonal profiles;
- ``pakistan-plants.csv``: the major plants (reference list);
- ``named-plants-zones.csv``: the zone of each major plant and why;
- ``aggregated-plants.csv``: the rest of the fleet, aggregated by technology and zone.

The output is deterministic: the same inputs give byte-identical files (the weather variation uses a
fixed seed from ``facts.toml``).
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parents[1] / "src" / "offtake" / "data" / "scenarios" / "pakistan-2025"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def fiscal_month_position(local: pd.DatetimeIndex) -> np.ndarray:
    """Position 0..11 of each timestamp's month in the fiscal year (July = 0)."""
    return ((local.month.to_numpy() - 7) % 12).astype(int)


def national_demand(facts: dict, index: pd.DatetimeIndex, tz: ZoneInfo) -> np.ndarray:
    """Hourly national demand [MW] that matches the monthly energy table."""
    d = facts["demand"]
    local = index.tz_convert(tz)
    hour = local.hour.to_numpy()
    fm = fiscal_month_position(local)
    weight = np.asarray(d["summer_weight"])[fm]
    summer = np.asarray(d["summer_shape"]) / np.mean(d["summer_shape"])
    winter = np.asarray(d["winter_shape"]) / np.mean(d["winter_shape"])
    shape = weight * summer[hour] + (1.0 - weight) * winter[hour]

    rng = np.random.default_rng(facts["scenario"]["seed"])
    day = ((local.normalize() - local.normalize()[0]).days).to_numpy()
    n_days = int(day.max()) + 1
    daily = np.empty(n_days)
    level = 0.0
    sigma = d["daily_ar1_sigma"] * np.sqrt(1 - d["daily_ar1_phi"] ** 2)
    for i in range(n_days):
        level = d["daily_ar1_phi"] * level + rng.normal(0.0, sigma)
        daily[i] = level
    factor = (1.0 + daily[day]) * np.where(local.day_of_week.to_numpy() == 6, d["sunday_factor"], 1.0)
    factor *= 1.0 + rng.normal(0.0, d["hourly_noise_sigma"], len(index))
    profile = shape * factor

    # A smooth seasonal level: monthly values at mid-month, interpolated daily, corrected until each
    # month's energy matches the table.
    monthly_gwh = np.asarray(d["monthly_gwh"], dtype=float)
    hours_in_month = np.bincount(fm, minlength=12).astype(float)
    target_mw = monthly_gwh * 1000.0 / hours_in_month
    mid_day = np.array([day[fm == m].mean() for m in range(12)])
    levels = target_mw.copy()
    for _ in range(50):
        level_per_hour = np.interp(day, mid_day, levels)
        got = np.bincount(fm, weights=profile * level_per_hour, minlength=12) / hours_in_month
        levels *= target_mw / got
    demand = profile * np.interp(day, mid_day, levels)
    got = np.bincount(fm, weights=demand, minlength=12) / hours_in_month
    return demand * (target_mw / got)[fm]


def zone_shares(facts: dict) -> dict[str, float]:
    """Share of national demand per zone [-], summing to 1."""
    z = facts["zones"]
    shares = {}
    for entry in z["list"]:
        shares[entry["id"]] = entry["disco_share"] * (1.0 - z["ke_share"])
    shares["KE"] = z["ke_share"]
    shares["THAR"] = z["thar_share"]
    shares["HESCO"] -= z["thar_share"]
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items()}


def profiles(facts: dict, index: pd.DatetimeIndex, tz: ZoneInfo, hydro_capacity_mw: float) -> pd.DataFrame:
    """Availability profiles [per unit]: hydro, wind, solar and bagasse."""
    p = facts["profiles"]
    local = index.tz_convert(tz)
    fm = fiscal_month_position(local)
    hours_in_month = np.bincount(fm, minlength=12).astype(float)
    hydro = np.asarray(p["hydro_monthly_gwh"]) * 1000.0 / (hydro_capacity_mw * hours_in_month)

    rng = np.random.default_rng(facts["scenario"]["seed"] + 1)
    hour = local.hour.to_numpy() + 0.5
    diurnal = 1.0 + 0.25 * np.sin((hour - 12.0) / 24.0 * 2 * np.pi)
    noise = np.empty(len(index))
    level = 0.0
    for i in range(len(index)):
        level = 0.97 * level + rng.normal(0.0, 0.25 * np.sqrt(1 - 0.97**2))
        noise[i] = level
    wind_raw = diurnal * np.exp(noise)
    wind = np.empty(len(index))
    cf = np.asarray(p["wind_monthly_cf"])
    for m in range(12):
        sel = fm == m
        scaled = wind_raw[sel] * cf[m] / wind_raw[sel].mean()
        for _ in range(20):  # keep the monthly mean after clipping
            clipped = np.clip(scaled, 0.0, 0.95)
            scaled *= cf[m] / clipped.mean()
        wind[sel] = np.clip(scaled, 0.0, 0.95)

    doy = local.day_of_year.to_numpy()
    declination = np.deg2rad(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    lat = np.deg2rad(p["solar_latitude_deg"])
    hour_angle = np.deg2rad(15.0 * (hour - 12.0))
    sin_elev = np.sin(lat) * np.sin(declination) + np.cos(lat) * np.cos(declination) * np.cos(hour_angle)
    clear = np.clip(sin_elev, 0.0, None) ** 1.2
    solar = clear * np.asarray(p["solar_monthly_clearness"])[fm]
    solar *= p["solar_annual_cf"] / solar.mean()
    solar = np.clip(solar, 0.0, 1.0)

    season = np.isin(local.month.to_numpy(), p["bagasse_season_months"])
    bagasse = np.where(season, p["bagasse_in_season"], p["bagasse_off_season"])
    return pd.DataFrame(
        {"hydro": hydro[fm], "wind_sindh": wind, "solar_punjab": solar, "bagasse": bagasse}, index=index
    )


def plants(facts: dict, rate: float) -> pd.DataFrame:
    """All plants with zone, technology, cost, must-run and availability."""
    reference = pd.read_csv(HERE / "pakistan-plants.csv")
    zones = pd.read_csv(HERE / "named-plants-zones.csv", keep_default_na=False)
    merged = reference.merge(zones, on="name", how="left", validate="one_to_one", suffixes=("_ref", ""))
    if merged["zone"].isna().any():
        missing = merged.loc[merged["zone"].isna(), "name"].tolist()
        raise SystemExit(f"named-plants-zones.csv lacks: {missing}")
    named = merged[merged["technology"] != "corridor"]
    rows = [
        {
            "name": r["name"],
            "technology": r["technology"],
            "zone": r["zone"],
            "capacity_mw": float(r["capacity_mw"]),
            "in_service_from": r["in_service_from"],
        }
        for r in named.to_dict("records")
    ]
    aggregated = pd.read_csv(HERE / "aggregated-plants.csv")
    rows += [
        {
            "name": r["name"],
            "technology": r["technology"],
            "zone": r["zone"],
            "capacity_mw": float(r["capacity_mw"]),
            "in_service_from": "",
        }
        for r in aggregated.to_dict("records")
    ]
    frame = pd.DataFrame(rows)
    techs = facts["technologies"]
    unknown = sorted(set(frame["technology"]) - set(techs))
    if unknown:
        raise SystemExit(f"no technology entry for {unknown}")
    frame["marginal_cost_usd_per_mwh"] = [
        round(techs[t]["cost_pkr_per_kwh"] * 1000.0 / rate, 2) for t in frame["technology"]
    ]
    frame["must_run"] = ["true" if techs[t]["must_run"] else "false" for t in frame["technology"]]
    frame["availability"] = [str(techs[t]["availability"]) for t in frame["technology"]]
    frame["min_output_pu"] = minimum_offtake(facts, frame)
    return frame[
        [
            "name",
            "technology",
            "zone",
            "capacity_mw",
            "marginal_cost_usd_per_mwh",
            "must_run",
            "availability",
            "in_service_from",
            "min_output_pu",
        ]
    ]


def minimum_offtake(facts: dict, frame: pd.DataFrame) -> list[str]:
    """The ``min_output_pu`` column: each plant's contractual minimum loading, blank for none."""
    value = {name: "" for name in frame["name"]}
    for contract in facts.get("minimum_offtake", []):
        for name in contract["plants"]:
            if name not in value:
                raise SystemExit(f"minimum_offtake names an unknown plant: {name}")
            value[name] = f"{contract['min_output_pu']:g}"
    return [value[name] for name in frame["name"]]


def toml_string(value: str) -> str:
    """Quote a string for TOML."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def scenario_toml(facts: dict, start_utc: pd.Timestamp, end_utc: pd.Timestamp, tariff_usd: float) -> str:
    """The text of scenario.toml."""
    s, m, r = facts["scenario"], facts["money"], facts["reserve"]
    variable = sorted(t for t, v in facts["technologies"].items() if v["variable"])
    lines = [
        "# Generated by tools/pakistan_2025/build.py from tools/pakistan_2025/facts.toml; do not edit by hand.",
        f"name = {toml_string(s['name'])}",
        f"title = {toml_string(s['title'])}",
        f"variable_technologies = [{', '.join(toml_string(v) for v in variable)}]",
        "",
        "[period]",
        f"start = {toml_string(start_utc.strftime(TIME_FORMAT))}",
        f"end = {toml_string(end_utc.strftime(TIME_FORMAT))}",
        "resolution_s = 3600",
        f"display_timezone = {toml_string(s['display_timezone'])}",
        "",
        "[money]",
        f"exchange_rate_pkr_per_usd = {m['exchange_rate_pkr_per_usd']}",
        f"default_tariff_usd_per_mwh = {tariff_usd}",
        "",
        "[reserve]",
        f"hold_largest_unit = {'true' if r['hold_largest_unit'] else 'false'}",
        f"largest_unit_mw = {r['largest_unit_mw']}",
        f"fraction_of_demand = {r['fraction_of_demand']}",
        "",
        "[files]",
        'plants = "plants.csv"',
        'demand = "demand.csv"',
        'profiles = "profiles.csv"',
    ]
    for z in facts["zones"]["list"]:
        lines += [
            "",
            "[[zones]]",
            f"id = {toml_string(z['id'])}",
            f"name = {toml_string(z['name'])}",
            f"region = {toml_string(z['region'])}",
            f"lat = {z['lat']:.2f}",
            f"lon = {z['lon']:.2f}",
        ]
    for c in facts["corridors"]:
        lines += [
            "",
            "[[corridors]]",
            f"id = {toml_string(c['id'])}",
            f"from = {toml_string(c['from'])}",
            f"to = {toml_string(c['to'])}",
            f"forward_mw = {c['forward_mw']}",
            f"reverse_mw = {c['reverse_mw']}",
            f"description = {toml_string(c['description'])}",
        ]
    lines += [
        "",
        "[sources]",
        f"exchange_rate = {toml_string(m['exchange_rate_source'])}",
        f"default_tariff = {toml_string(m['default_tariff_source'])}",
        f"demand_annual = {toml_string(facts['demand']['annual_source'])}",
        f"reserve = {toml_string(r['source'])}",
        'all = "Every number is cited in SOURCES.md"',
    ]
    return "\n".join(lines) + "\n"


def mix_check_lines(facts: dict) -> list[str]:
    """Lines of SOURCES.md that state the published generation mix the dispatch is checked against."""
    mix = facts.get("generation_mix")
    if not mix:
        return []
    shares = ", ".join(f"{t} {v} %" for t, v in mix["published_percent"].items())
    return [
        "## Generation mix check",
        "",
        "The least-cost dispatch of this scenario is tested to give each technology's share of annual generation",
        f"within {mix['tolerance_points']} percentage points of the published FY25 share: {shares}.",
        f"Source: {mix['source']}.",
    ]


def sources_md(facts: dict, plant_frame: pd.DataFrame, tariff_usd: float) -> str:
    """The text of SOURCES.md: where every number comes from."""
    d, z, p, m = facts["demand"], facts["zones"], facts["profiles"], facts["money"]
    out = [
        "# pakistan-2025: sources",
        "",
        "Generated by `tools/pakistan_2025/build.py` from `tools/pakistan_2025/facts.toml` and the plant lists",
        "beside it. Numbers marked [estimate] were made for this model; [derived] ones are computed from cited",
        "figures. Most figures are official numbers as reported by the press (NEPRA, NTDC/NGC, CPPA-G, the Power",
        "and Finance Divisions); the primary PDFs were not consulted.",
        "",
        "## Period and money",
        "",
        "- Fiscal year 2024-25: 1 Jul 2024 00:00 to 1 Jul 2025 00:00 Pakistan time (UTC+5), 8,760 hours, stored in UTC.",
        f"- Exchange rate {m['exchange_rate_pkr_per_usd']} PKR/USD: {m['exchange_rate_source']}.",
        f"- Default tariff PKR {m['default_tariff_pkr_per_kwh']}/kWh = {tariff_usd} USD/MWh: {m['default_tariff_source']}.",
        "",
        "## Demand",
        "",
        f"- Annual {d['annual_gwh']:,} GWh: {d['annual_source']}. The model's national demand equals this published grid",
        "  generation; K-Electric's own generation may lie partly outside the published series, so K-Electric's",
        "  demand here is its share of that total [estimate].",
        f"- Monthly GWh (July first) {d['monthly_gwh']}: {' '.join(d['monthly_source'].split())}",
        f"- Summer peak range {d['summer_peak_range_mw']} MW: {d['summer_peak_source']}.",
        f"- Winter low range {d['winter_low_range_mw']} MW: {d['winter_low_source']}.",
        f"- Daily shapes and monthly blend: {d['shape_source']}.",
        f"- Day-to-day variation (AR(1) phi {d['daily_ar1_phi']}, sigma {d['daily_ar1_sigma']}, hourly noise "
        f"{d['hourly_noise_sigma']}, Sunday factor {d['sunday_factor']}): {d['variation_source']}.",
        "",
        "## Zones",
        "",
        f"- DISCO shares: {z['disco_share_source']}. PESCO includes TESCO.",
        f"- K-Electric share {z['ke_share']}: {z['ke_share_source']}.",
        f"- Thar node share {z['thar_share']}: {z['thar_share_source']}.",
        f"- Positions (`lat`, `lon`): {z['position_source']}: "
        + ", ".join(f"{e['id']} {e['city']}" for e in z["list"])
        + ".",
        "- Zone demand is national demand times a constant share [estimate: the zones' own daily shapes are not published].",
        "",
        "| zone | name | DISCO share |",
        "|---|---|---|",
    ]
    out += [f"| {e['id']} | {e['name']} | {e['disco_share']} |" for e in z["list"]]
    out += [
        "",
        "## Corridors",
        "",
        "| id | from | to | forward MW | reverse MW | source |",
        "|---|---|---|---|---|---|",
    ]
    out += [
        f"| {c['id']} | {c['from']} | {c['to']} | {c['forward_mw']} | {c['reverse_mw']} | {c['description']} |"
        for c in facts["corridors"]
    ]
    checks = facts.get("corridor_review", {}).get("checks", [])
    if checks:
        out += ["", "### Corridor checks", ""]
        out += [f"- {check}" for check in checks]
    out += [
        "",
        "## Reserve",
        "",
        f"- Largest unit held plus {facts['reserve']['fraction_of_demand']} of demand: {facts['reserve']['source']}.",
        "",
        "## Technologies",
        "",
        "| technology | fuel cost PKR/kWh | availability | must-run | source |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {t} | {v['cost_pkr_per_kwh']} | {v['availability']} | {v['must_run']} | {v['source']} |"
        for t, v in facts["technologies"].items()
    ]
    out += [
        "",
        "Marginal cost [USD/MWh] = fuel cost [PKR/kWh] x 1000 / exchange rate.",
        "",
        "## Fuel contracts (minimum off-take)",
        "",
        "Column `min_output_pu` of `plants.csv`: the share of its capacity a plant must produce in every hour",
        "(or all it has available when that is less), a take-or-pay fuel supply written as a minimum loading.",
        "",
        "| plants | minimum loading [share of capacity] | source |",
        "|---|---|---|",
    ]
    out += [
        f"| {', '.join(c['plants'])} | {c['min_output_pu']} | {c['source']} |"
        for c in facts.get("minimum_offtake", [])
    ]
    out += ["", *mix_check_lines(facts)]
    out += [
        "",
        "## Profiles",
        "",
        f"- Hydro monthly GWh {p['hydro_monthly_gwh']}: {p['hydro_source']}; availability = monthly energy / (in-service hydro MW x hours).",
        f"- Wind monthly capacity factor {p['wind_monthly_cf']}: {p['wind_source']}.",
        f"- Solar: {p['solar_source']}.",
        f"- Bagasse: {p['bagasse_source']}.",
        "",
        "## Plants",
        "",
        "Major plants: every row of `pakistan-plants.csv` (sources in its `source` column); the two HVDC",
        "converter rows define the `hvdc-matiari-lahore` corridor instead of plants. Zones and the reason for",
        "each are in `named-plants-zones.csv`; the rest of the fleet, aggregated by technology and zone, with",
        "sources, is in `aggregated-plants.csv`.",
        "",
        "| plant | technology | zone | MW |",
        "|---|---|---|---|",
    ]
    out += [
        f"| {r['name']} | {r['technology']} | {r['zone']} | {r['capacity_mw']:,.0f} |"
        for r in plant_frame.to_dict("records")
    ]
    totals = plant_frame.groupby("technology")["capacity_mw"].sum()
    out += ["", "Capacity by technology [MW]: " + ", ".join(f"{k} {v:,.0f}" for k, v in totals.items()) + "."]
    return "\n".join(out) + "\n"


def build(out: Path) -> None:
    """Write scenario.toml, plants.csv, demand.csv, profiles.csv and SOURCES.md into ``out``."""
    facts = tomllib.loads((HERE / "facts.toml").read_text(encoding="utf-8"))
    s = facts["scenario"]
    tz = ZoneInfo(s["display_timezone"])
    start = pd.Timestamp(s["start_local"]).tz_convert("UTC")
    end = pd.Timestamp(s["end_local"]).tz_convert("UTC")
    index = pd.date_range(start, end, freq="h", inclusive="left")
    rate = facts["money"]["exchange_rate_pkr_per_usd"]
    tariff_usd = round(facts["money"]["default_tariff_pkr_per_kwh"] * 1000.0 / rate, 2)

    out.mkdir(parents=True, exist_ok=True)
    plant_frame = plants(facts, rate)
    plant_frame.to_csv(out / "plants.csv", index=False)

    hydro = plant_frame[(plant_frame["technology"] == "hydro") & (plant_frame["in_service_from"] == "")]
    prof = profiles(facts, index, tz, float(hydro["capacity_mw"].sum()))
    national = national_demand(facts, index, tz)
    shares = zone_shares(facts)

    times = pd.DataFrame(
        {
            "interval_start": index.strftime(TIME_FORMAT),
            "interval_end": (index + pd.Timedelta(hours=1)).strftime(TIME_FORMAT),
        }
    )
    demand = times.copy()
    for entry in facts["zones"]["list"]:
        demand[entry["id"]] = np.round(national * shares[entry["id"]], 1)
    demand.to_csv(out / "demand.csv", index=False)
    profile_frame = times.copy()
    for col in prof.columns:
        profile_frame[col] = np.round(prof[col].to_numpy(), 4)
    profile_frame.to_csv(out / "profiles.csv", index=False)
    (out / "scenario.toml").write_text(scenario_toml(facts, start, end, tariff_usd), encoding="utf-8")
    (out / "SOURCES.md").write_text(sources_md(facts, plant_frame, tariff_usd), encoding="utf-8")


def main() -> None:
    """Parse arguments and build."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args()
    build(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
