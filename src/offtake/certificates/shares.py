"""The renewable share of each zone and hour, by technology: what certificates are issued from.

A :class:`ShareTable` maps (zone, hour start) to the share of the zone's supply in that hour
that came from each renewable technology, in integer parts per million (ppm), so issued
volumes are exact integers anyone can recompute. It is built from a scenario's least-cost
dispatch (:func:`shares_from_dispatch`) or read from a CSV file (:func:`read_shares`,
written by :func:`write_shares`).

The rule (``offtake/data/certificates.toml``): a zone's supply in an hour is its own
generation less what it spills, plus its net imports; imports carry the national renewable
share of the hour; spilled must-run output is taken from the renewable output first.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from offtake.errors import InputError
from offtake.timeutil import parse_utc, require_aware

if TYPE_CHECKING:
    from offtake.grid import Baseline
    from offtake.scenario import Scenario

__all__ = [
    "CertificateRules",
    "ShareTable",
    "load_rules",
    "read_shares",
    "renewable_technologies",
    "shares_from_dispatch",
    "shares_from_rows",
    "write_shares",
]


@dataclass(frozen=True)
class CertificateRules:
    """The rules of ``offtake/data/certificates.toml``."""

    standard: str
    hour: timedelta
    extra_renewable_technologies: tuple[str, ...]
    share_denominator: int


def load_rules(path: Path | None = None) -> CertificateRules:
    """Read the certificate rules (the bundled file by default)."""
    if path is None:
        text = resources.files("offtake.data").joinpath("certificates.toml").read_text("utf-8")
        where = "offtake/data/certificates.toml"
    else:
        text, where = path.read_text("utf-8"), str(path)
    table = tomllib.loads(text).get("certificates")
    if not isinstance(table, dict):
        raise InputError("no [certificates] table", file=where)
    try:
        hour_s = int(table["hour_s"])
        denominator = int(table["share_denominator"])
        extra = tuple(str(t) for t in table["extra_renewable_technologies"])
        standard = str(table["standard"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"missing or invalid value: {exc}", file=where, field="certificates") from None
    if hour_s <= 0 or denominator <= 0:
        raise InputError("hour_s and share_denominator must be positive", file=where, field="certificates")
    return CertificateRules(standard, timedelta(seconds=hour_s), extra, denominator)


@dataclass
class ShareTable:
    """Renewable share per zone, hour and technology [ppm of the zone's supply].

    Parameters
    ----------
    shares
        ``(zone, hour start UTC) -> {technology: ppm}``; technologies with 0 ppm may be left out.
    source
        Where the shares came from (a scenario name or a file), for messages and entries.
    """

    shares: dict[tuple[str, datetime], dict[str, int]] = field(default_factory=dict)
    source: str = ""

    def of(self, zone: str, hour_start: datetime) -> dict[str, int]:
        """Shares of ``zone`` in the hour starting at ``hour_start``.

        Raises
        ------
        InputError
            The table has no shares for that zone and hour.
        """
        found = self.shares.get((zone, hour_start))
        if found is None:
            raise InputError(
                f"no renewable share for zone '{zone}' in the hour from {hour_start.isoformat()} "
                f"in {self.source or 'the share table'}; use shares that cover the period",
                field="shares",
            )
        return found


def renewable_technologies(scenario: Scenario, rules: CertificateRules | None = None) -> list[str]:
    """Return the scenario's variable technologies plus the rules' extra renewable ones, sorted."""
    rules = rules or load_rules()
    variable = set(scenario.plants.loc[scenario.plants["variable"], "technology"])
    return sorted(variable | set(rules.extra_renewable_technologies))


def shares_from_dispatch(
    scenario: Scenario, baseline: Baseline | None = None, rules: CertificateRules | None = None
) -> ShareTable:
    """Renewable share per zone, hour and technology from the scenario's least-cost dispatch.

    Parameters
    ----------
    scenario
        An hourly scenario.
    baseline
        Its dispatch (:func:`offtake.grid.least_cost_dispatch`), solved here if not given.
    rules
        Certificate rules (bundled by default).
    """
    rules = rules or load_rules()
    if scenario.resolution_s != int(rules.hour.total_seconds()):
        raise InputError(
            f"scenario '{scenario.name}' has {scenario.resolution_s} s intervals; certificates need hourly ones",
            field="resolution_s",
        )
    if baseline is None:
        from offtake.grid import least_cost_dispatch

        baseline = least_cost_dispatch(scenario)
    grid = baseline.grid
    techs = renewable_technologies(scenario, rules)
    group_tech = np.array([name.split("|")[1] for name in grid.fleet.names])
    n_t, n_z = grid.n_intervals, len(grid.zones)
    gen = baseline.generation_mw
    total = np.zeros((n_t, n_z))
    renew = np.zeros((len(techs), n_t, n_z))
    for g, zi in enumerate(grid.fleet.zone_index):
        total[:, zi] += gen[:, g]
        if group_tech[g] in techs:
            renew[techs.index(group_tech[g]), :, zi] += gen[:, g]
    # spilled output leaves the renewables first (conservative), then the rest
    renew_sum = renew.sum(axis=0)
    kept = np.divide(
        np.clip(renew_sum - baseline.spilled_mw, 0.0, None),
        renew_sum,
        out=np.zeros_like(renew_sum),
        where=renew_sum > 0,
    )
    renew = renew * kept
    local = np.clip(total - baseline.spilled_mw, 0.0, None)
    net_in = np.zeros((n_t, n_z))
    for ci, (src, dst) in enumerate(zip(grid.corridors["from_zone"], grid.corridors["to_zone"], strict=True)):
        flow = baseline.flow_mw[:, ci]
        net_in[:, grid.zones.index(dst)] += flow
        net_in[:, grid.zones.index(src)] -= flow
    imports = np.clip(net_in, 0.0, None)
    national = np.divide(
        renew.sum(axis=2), local.sum(axis=1), out=np.zeros((len(techs), n_t)), where=local.sum(axis=1) > 0
    )
    supply = local + imports
    denominator = rules.share_denominator
    table: dict[tuple[str, datetime], dict[str, int]] = {}
    starts = [t.to_pydatetime() for t in scenario.index]
    for ti, start in enumerate(starts):
        for zi, zone in enumerate(grid.zones):
            if supply[ti, zi] <= 0:
                table[(zone, start)] = {}
                continue
            row = {}
            for k, tech in enumerate(techs):
                share = (renew[k, ti, zi] + imports[ti, zi] * national[k, ti]) / supply[ti, zi]
                ppm = int(np.floor(min(max(share, 0.0), 1.0) * denominator))
                if ppm:
                    row[tech] = ppm
            _cap(row, denominator)
            table[(zone, start)] = row
    return ShareTable(table, f"scenario '{scenario.name}'")


def _cap(row: dict[str, int], denominator: int) -> None:
    """Trim rounding so the shares of one hour never sum above the whole."""
    excess = sum(row.values()) - denominator
    for tech in sorted(row, key=row.__getitem__, reverse=True):
        if excess <= 0:
            break
        cut = min(excess, row[tech])
        row[tech] -= cut
        excess -= cut


_COLUMNS = ("zone", "hour_start", "technology", "share_ppm")


def write_shares(table: ShareTable, path: Path) -> int:
    """Write ``table`` as CSV (``zone,hour_start,technology,share_ppm``); return the rows written."""
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(_COLUMNS)
        for (zone, start), techs in sorted(table.shares.items()):
            for tech, ppm in sorted(techs.items()):
                out.writerow((zone, start.isoformat().replace("+00:00", "Z"), tech, ppm))
                rows += 1
            if not techs:
                out.writerow((zone, start.isoformat().replace("+00:00", "Z"), "", 0))
                rows += 1
    return rows


def read_shares(path: Path, rules: CertificateRules | None = None) -> ShareTable:
    """Read a share CSV written by :func:`write_shares`; every bad value is named by line and field."""
    rules = rules or load_rules()
    table: dict[tuple[str, datetime], dict[str, int]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != _COLUMNS:
            raise InputError(f"expected the columns {','.join(_COLUMNS)}", file=path, line=1)
        for line, row in enumerate(reader, start=2):
            _read_row(row, path, line, table, rules)
    return ShareTable(table, str(path))


def _read_row(
    row: Mapping[str, str],
    path: Path,
    line: int,
    table: dict[tuple[str, datetime], dict[str, int]],
    rules: CertificateRules,
) -> None:
    zone, tech = (row.get("zone") or "").strip(), (row.get("technology") or "").strip()
    start = parse_utc(row.get("hour_start") or "", field="hour_start", file=str(path), line=line)
    try:
        ppm = int(row.get("share_ppm") or "")
    except ValueError:
        raise InputError(
            f"share_ppm must be an integer, got {row.get('share_ppm')!r}", file=path, line=line, field="share_ppm"
        ) from None
    _add_share(table, zone, start, tech, ppm, rules, lambda name: {"file": path, "line": line, "field": name})


def _add_share(
    table: dict[tuple[str, datetime], dict[str, int]],
    zone: str,
    start: datetime,
    tech: str,
    ppm: int,
    rules: CertificateRules,
    where: Callable[[str], dict[str, Any]],
) -> None:
    """Check one share and add it to ``table``; ``where(field)`` locates an error."""
    if not zone:
        raise InputError("empty zone", **where("zone"))
    if start.timestamp() % rules.hour.total_seconds():
        raise InputError(f"{start.isoformat()} is not the start of a clock hour", **where("hour_start"))
    if not 0 <= ppm <= rules.share_denominator:
        raise InputError(f"share_ppm must lie in 0..{rules.share_denominator}, got {ppm}", **where("share_ppm"))
    techs = table.setdefault((zone, start), {})
    if tech:
        if tech in techs:
            raise InputError(f"second share of '{tech}' in zone '{zone}' at {start.isoformat()}", **where("technology"))
        techs[tech] = ppm
        if sum(techs.values()) > rules.share_denominator:
            raise InputError("the shares of this zone and hour sum above the whole", **where("share_ppm"))


def _field_at(prefix: str, name: str) -> dict[str, Any]:
    return {"field": f"{prefix}.{name}"}


def shares_from_rows(
    rows: Iterable[tuple[str, datetime, str | None, int]],
    source: str,
    *,
    field: str = "shares",
    rules: CertificateRules | None = None,
) -> ShareTable:
    """Build a share table from ``(zone, hour start, technology, share_ppm)`` rows, checked as a file's.

    A row without a technology (or with 0 ppm) says the zone had no renewable supply in that hour.
    An error names the row as ``<field>[<index>].<column>``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2025, 7, 1, tzinfo=UTC)
    >>> shares_from_rows([("LESCO", t, "solar_pv", 250_000)], "example").of("LESCO", t)
    {'solar_pv': 250000}
    """
    rules = rules or load_rules()
    table: dict[tuple[str, datetime], dict[str, int]] = {}
    for n, (zone, start, tech, ppm) in enumerate(rows):
        start = require_aware(start, field=f"{field}[{n}].hour_start").astimezone(UTC)
        _add_share(table, zone.strip(), start, (tech or "").strip(), ppm, rules, partial(_field_at, f"{field}[{n}]"))
    return ShareTable(table, source)
