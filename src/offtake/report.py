"""Self-contained HTML reports: text, tables that fit the page, and interactive charts that work offline.

Charts are plotly figures (hover values, zoom, click a legend entry to hide or show a zone). The page embeds
plotly.js once, inline, and each chart's data as plain JSON, so a report is one file that opens with no network.

How a report adds a chart::

    import plotly.graph_objects as go
    from offtake.report import HtmlReport, new_chart, zone_colours

    colours = zone_colours(scenario.zone_ids)          # the one zone -> colour mapping
    fig = new_chart(x_title="hour (Pakistan time)", y_title="surplus [MW]")
    for zone in scenario.zone_ids:
        fig.add_trace(go.Scatter(x=hours, y=values[zone], name=zone, line={"color": colours[zone]}))
    report.chart(fig, "Mean surplus by hour of day.")

Times on a chart's axis are given as Pakistan wall-clock text (:func:`local_times`); money as
:func:`money_text`; rates as given with :func:`rate_text`; the map of zones, corridors and sites is
:func:`zone_map`.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from offtake.scenario.model import Corridor, Zone
from offtake.timeutil import DISPLAY_TIMEZONE

__all__ = [
    "DISPLAY_TIMEZONE",
    "ZONE_PALETTE",
    "Box",
    "HtmlReport",
    "MapLabels",
    "chart_specs",
    "label_box",
    "local_times",
    "map_pixels",
    "money_text",
    "new_chart",
    "overlap",
    "rate_text",
    "share_text",
    "zone_colours",
    "zone_map",
]


ZONE_PALETTE: tuple[str, ...] = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#000000",
    "#882255",
    "#117733",
    "#999933",
)
"""Eleven zone colours told apart with common colour-vision deficiencies: Okabe and Ito's eight, then three of
Paul Tol's muted scheme. The reports and the control room's schematic map share it, in scenario order."""

NATIONAL_COLOUR = "#555555"
"""Colour of national (all-zone) series, drawn dashed (black is a zone's colour)."""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222;
  line-height: 1.45; }
h1 { margin-bottom: 0.2em; } .subtitle { color: #555; margin-top: 0; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: 0.8em 0; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; }
td, tbody th { white-space: nowrap; } th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
img { max-width: 100%; } .findings li { margin: 0.3em 0; } .note { color: #666; font-size: 0.85em; }
.caution { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 1em; margin: 0.5em 0; }
.kpi { display: inline-block; margin: 0 1.5em 0.5em 0; } .kpi b { display: block; font-size: 1.3em; }
.chart { width: 100%; }
"""

_BOOT = """
document.querySelectorAll("script.chart-data").forEach(function (el) {
  var spec = JSON.parse(el.textContent);
  Plotly.newPlot(document.getElementById(el.dataset.chart), spec.data, spec.layout,
    {responsive: true, displaylogo: false, showLink: false, showSendToCloud: false});
});
"""


def zone_colours(zone_ids: Iterable[str]) -> dict[str, str]:
    """Give each zone its colour, the one mapping every chart and the map of a report use.

    Parameters
    ----------
    zone_ids
        The scenario's zones in the scenario's order (``Scenario.zone_ids``); the same order gives the
        same colours in every report.

    Returns
    -------
    dict
        Zone id to a CSS colour; beyond eleven zones the palette repeats.
    """
    return {zone: ZONE_PALETTE[i % len(ZONE_PALETTE)] for i, zone in enumerate(zone_ids)}


def new_chart(*, x_title: str = "", y_title: str = "", title: str = "", height: int = 380) -> Any:
    """Return an empty plotly figure with the reports' layout (white, legend on the right, hover by x).

    Parameters
    ----------
    x_title, y_title
        Axis titles, units in brackets.
    title
        Title over the chart (the caption under it usually suffices).
    height
        Height of the chart [px].

    Returns
    -------
    plotly.graph_objects.Figure
        Add traces to it, then pass it to :meth:`HtmlReport.chart`.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(
        template="plotly_white",
        height=max(height, 220),
        margin={"l": 60, "r": 20, "t": 40 if title else 20, "b": 50},
        hovermode="x unified",
        title={"text": title} if title else None,
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend={"itemclick": "toggle", "itemdoubleclick": "toggleothers"},
    )
    return fig


def local_times(index: Iterable[Any], timezone: str = DISPLAY_TIMEZONE) -> list[str]:
    """Write aware instants as wall-clock text in ``timezone`` for a chart axis (``2024-07-01 05:00``).

    Parameters
    ----------
    index
        Aware timestamps (UTC inside the platform).
    timezone
        IANA zone to show them in; Pakistan time by default.

    Returns
    -------
    list of str
        One text per instant, minutes resolution.
    """
    stamps = pd.DatetimeIndex(list(index))
    if stamps.tz is None:
        raise ValueError("local_times needs aware timestamps")
    return [t.strftime("%Y-%m-%d %H:%M") for t in stamps.tz_convert(timezone)]


def money_text(usd: float, rate_pkr_per_usd: float, decimals: int = 1) -> str:
    """Write an amount as ``12.3 M USD (3.4 bn PKR)``, the reports' one way of showing money.

    Parameters
    ----------
    usd
        Amount [USD].
    rate_pkr_per_usd
        Exchange rate [PKR/USD]; the report states it once.
    decimals
        Decimals of the M USD figure.
    """
    return f"{usd / 1e6:,.{decimals}f} M USD ({usd * rate_pkr_per_usd / 1e9:,.{max(decimals, 1)}f} bn PKR)"


def rate_text(fraction: float) -> str:
    """Write a rate as the percentage it was given as: 0.0025 is ``0.25 %``, never ``0.2 %``.

    Parameters
    ----------
    fraction
        A share [-].
    """
    return f"{round(100.0 * fraction, 9):g} %"


def share_text(share: float, decimals: int = 1) -> str:
    """Write a computed share or probability as a percentage that is 0 % or 100 % only when exact.

    ``0.9995`` is ``99.95 %``, not ``100.0 %``: decimals are added (up to four) until the figure no
    longer rounds to an end, and beyond that it reads ``> 99.9999 %`` or ``< 0.0001 %``. A share
    outside 0-1 (e.g. a result above its bound) is written plainly with ``decimals``. Every report and
    command line that prints a probability or share uses it; :func:`rate_text` is for rates given as input.

    Parameters
    ----------
    share
        A share [-].
    decimals
        Decimals of the percentage when they suffice [-].

    Returns
    -------
    str
        E.g. ``12.3 %``.
    """
    if not math.isfinite(share):
        raise ValueError(f"not a share: {share!r}")
    if share in (0.0, 1.0) or not 0.0 < share < 1.0:
        return f"{100 * share:.{decimals if share not in (0.0, 1.0) else 0}f} %"
    most = max(4, decimals)
    for d in range(decimals, most + 1):
        text = f"{100 * share:.{d}f}"
        if 0.0 < float(text) < 100.0:
            return f"{text} %"
    return f"> {100 - 10.0**-most:.{most}f} %" if share > 0.5 else f"< {10.0**-most:.{most}f} %"


def zone_map(
    zones: Sequence[Zone],
    corridors: Sequence[Corridor],
    colours: Mapping[str, str],
    *,
    sites: pd.DataFrame | None = None,
    zone_values: Mapping[str, str] | None = None,
    height: int = 640,
) -> Any:
    """Draw zones at their positions, corridors with their capacity and sites sized by MW, offline.

    Schematic: longitude and latitude as plain axes (equal distances at Pakistan's latitude), no
    tiles and no outline, so the page needs no network. Click a zone in the legend to hide or show it
    with its sites.

    Parameters
    ----------
    zones
        The scenario's zones; those without ``lat``/``lon`` are left out.
    corridors
        Inter-zone links; each is a line whose width grows with its larger limit [MW].
    colours
        Zone to colour (:func:`zone_colours`).
    sites
        Optional, indexed by site id, with columns ``zone`` and ``mw`` [MW]: drawn around their
        zone's point, marker area proportional to MW.
    zone_values
        Optional text per zone added to its hover label (e.g. ``surplus in 90 % of hours 1,200 MW``).
    height
        Height of the chart [px].

    Returns
    -------
    plotly.graph_objects.Figure
        For :meth:`HtmlReport.chart`.
    """
    import plotly.graph_objects as go

    where = {z.id: (float(z.lon), float(z.lat)) for z in zones if z.lat is not None and z.lon is not None}
    fig = new_chart(x_title="longitude [°E]", y_title="latitude [°N]", height=height)
    fig.update_layout(hovermode="closest")
    biggest = float(sites["mw"].max()) if sites is not None and len(sites) and sites["mw"].max() > 0 else 1.0
    placed = _place_map_labels(where, corridors, sites, biggest, height)
    _map_corridors(fig, go, corridors, where, placed.corridor_positions)
    for zone in zones:
        if zone.id not in where:
            continue
        x, y = where[zone.id]
        extra = f"<br>{html.escape(zone_values[zone.id])}" if zone_values and zone.id in zone_values else ""
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers+text",
                text=[zone.id],
                textposition=placed.zone_positions[zone.id],
                name=zone.id,
                legendgroup=zone.id,
                marker={"color": colours[zone.id], "size": 14, "symbol": "square"},
                hovertemplate=f"<b>{html.escape(zone.id)}</b> {html.escape(zone.name)}{extra}<extra></extra>",
            )
        )
        here = sites[sites["zone"] == zone.id] if sites is not None else None
        if here is None or here.empty:
            continue
        angles = _site_angles(len(here))
        mw = here["mw"].to_numpy(dtype=float)
        fig.add_trace(
            go.Scatter(
                x=(x + _SITE_RING_DEG[0] * np.cos(angles)).tolist(),
                y=(y + _SITE_RING_DEG[1] * np.sin(angles)).tolist(),
                mode="markers",
                name=f"{zone.id} sites",
                legendgroup=zone.id,
                showlegend=False,
                marker={
                    "color": colours[zone.id],
                    "size": _site_sizes(mw, biggest).tolist(),
                    "line": {"color": "#333", "width": 1},
                    "opacity": 0.85,
                },
                customdata=[[str(s), float(m)] for s, m in zip(here.index, mw, strict=True)],
                hovertemplate="site %{customdata[0]}: %{customdata[1]:,.1f} MW<extra>" + zone.id + "</extra>",
            )
        )
    mid = math.radians(float(np.mean([p[1] for p in where.values()]))) if where else 0.0
    fig.update_yaxes(scaleanchor="x", scaleratio=1.0 / math.cos(mid), showgrid=False, zeroline=False)
    fig.update_xaxes(showgrid=False, zeroline=False, constrain="domain")
    if where:
        lons = [p[0] for p in where.values()]
        fig.update_xaxes(range=[min(lons) - _MAP_MARGIN_DEG, max(lons) + _MAP_MARGIN_DEG])
    return fig


def _map_corridors(
    fig: Any,
    go: Any,
    corridors: Sequence[Corridor],
    where: Mapping[str, tuple[float, float]],
    positions: Mapping[str, str],
) -> None:
    """Add each corridor as a grey line, width by capacity, its limits written beside its middle."""
    shown = [c for c in corridors if c.from_zone in where and c.to_zone in where]
    if not shown:
        return
    largest = max(max(c.forward_mw, c.reverse_mw) for c in shown) or 1.0
    for i, c in enumerate(shown):
        (x0, y0), (x1, y1) = where[c.from_zone], where[c.to_zone]
        label = (
            f"{c.id}: {c.from_zone}→{c.to_zone} {c.forward_mw:,.0f} MW, "
            f"{c.to_zone}→{c.from_zone} {c.reverse_mw:,.0f} MW"
        )
        fig.add_trace(
            go.Scatter(
                x=[x0, (x0 + x1) / 2, x1],
                y=[y0, (y0 + y1) / 2, y1],
                mode="lines+markers+text",
                text=["", _limits(c), ""],
                textposition=positions.get(c.id, "middle right"),
                textfont={"size": 9, "color": "#555"},
                name="corridors",
                legendgroup="corridors",
                showlegend=i == 0,
                line={"color": "#9a9a9a", "width": 1 + 7 * max(c.forward_mw, c.reverse_mw) / largest},
                marker={"size": [0, 6, 0], "color": "#666"},
                hovertemplate=html.escape(label) + "<extra></extra>",
            )
        )


_SITE_RING_DEG = (0.35, 0.3)
"""Offsets of a zone's sites around its point [degrees of longitude, latitude]."""

_MAP_MARGIN_DEG = 1.5
"""Longitude drawn beyond the outermost zones on each side [degrees]."""

_ZONE_MARKER_PX = 14
_CORRIDOR_MARKER_PX = 6
_ZONE_FONT_PX = 12
_CORRIDOR_FONT_PX = 9
_LABEL_POSITIONS = (
    "top center",
    "bottom center",
    "middle right",
    "middle left",
    "top right",
    "top left",
    "bottom right",
    "bottom left",
)
"""plotly's text positions, in order of preference (the first that collides least is taken)."""

_COVER_WEIGHT = 3.0
"""How much worse a label covering a marker is than one covering another label [-]."""

Box = tuple[float, float, float, float]


def _site_angles(n: int) -> Any:
    """Angles of ``n`` sites around their zone's point [rad]."""
    return np.linspace(0.0, 2.0 * math.pi, n, endpoint=False) + math.pi / 4


def _site_sizes(mw: Any, biggest: float) -> Any:
    """Marker diameters of sites [px], area proportional to MW."""
    return 6 + 30 * np.sqrt(np.asarray(mw, dtype=float) / biggest)


class MapLabels:
    """Where the map writes each zone's name and each corridor's limits, and the boxes they take.

    Attributes
    ----------
    zone_positions, corridor_positions
        plotly ``textposition`` per zone id and per corridor id.
    boxes
        Label name (``zone:<id>`` or ``corridor:<id>``) to its estimated box on the page [px]
        (left, bottom, right, top, y upwards).
    obstacles
        Boxes of what labels must not cover: zone markers, other zones' sites [px].
    """

    def __init__(self) -> None:
        self.zone_positions: dict[str, str] = {}
        self.corridor_positions: dict[str, str] = {}
        self.boxes: dict[str, Box] = {}
        self.obstacles: list[tuple[str, Box]] = []


def label_box(x: float, y: float, position: str, text: str, font_px: float, marker_px: float) -> Box:
    """Estimate the box [px] plotly draws ``text`` in at ``position`` beside a marker at ``(x, y)`` [px].

    A character is taken as 0.65 of the font size wide and a line as 1.2 of it high; the text
    starts half a marker plus two pixels from the point.
    """
    width, high = 0.65 * font_px * len(text), 1.2 * font_px
    gap = marker_px / 2 + 2
    vertical, horizontal = position.split()
    left = {"left": x - gap - width, "center": x - width / 2, "right": x + gap}[horizontal]
    bottom = {"top": y + gap, "middle": y - high / 2, "bottom": y - gap - high}[vertical]
    return (left, bottom, left + width, bottom + high)


def overlap(a: Box, b: Box) -> float:
    """Area two boxes share [px²]."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def map_pixels(where: Mapping[str, tuple[float, float]], height: int) -> Callable[[float, float], tuple[float, float]]:
    """Return a function from (lon, lat) [degrees] to page pixels of the map (y upwards), estimated.

    The map keeps distances true at its middle latitude and fills its plot height (the chart's
    height less its margins) with the zones' latitudes plus two degrees of padding (as measured on a drawn map).
    """
    lats = [p[1] for p in where.values()] or [0.0]
    stretch = 1.0 / math.cos(math.radians(float(np.mean(lats))))
    span = (max(lats) - min(lats)) * stretch + 2.0
    per_degree = (max(height, 220) - 70) / span

    def to_px(lon: float, lat: float) -> tuple[float, float]:
        return lon * per_degree, lat * per_degree * stretch

    return to_px


@dataclass(frozen=True)
class _Label:
    """A text to place beside a point [px], its font and marker sizes [px], the sides it may take."""

    x: float
    y: float
    text: str
    font_px: float
    marker_px: float
    preferences: tuple[str, ...]
    own: frozenset[str] = frozenset()


def _map_labels(
    where: Mapping[str, tuple[float, float]], corridors: Sequence[Corridor], px: Mapping[str, tuple[float, float]]
) -> dict[str, _Label]:
    """List the map's labels: zones with the nearest neighbours first, then the corridors' limits."""

    def crowding(zone: str) -> float:
        x, y = px[zone]
        return min((math.hypot(x - u, y - v) for z, (u, v) in px.items() if z != zone), default=math.inf)

    labels = {
        f"zone:{z}": _Label(*px[z], z, _ZONE_FONT_PX, _ZONE_MARKER_PX, _LABEL_POSITIONS, frozenset({f"zone:{z}"}))
        for z in sorted(px, key=crowding)
    }
    corridor_sides = ("middle right", "middle left", *(p for p in _LABEL_POSITIONS if not p.startswith("middle")))
    for c in corridors:
        if c.from_zone in where and c.to_zone in where:
            (x0, y0), (x1, y1) = px[c.from_zone], px[c.to_zone]
            labels[f"corridor:{c.id}"] = _Label(
                (x0 + x1) / 2,
                (y0 + y1) / 2,
                _limits(c),
                _CORRIDOR_FONT_PX,
                _CORRIDOR_MARKER_PX,
                corridor_sides,
                frozenset({f"mid:{c.id}"}),
            )
    return labels


def _place_map_labels(
    where: Mapping[str, tuple[float, float]],
    corridors: Sequence[Corridor],
    sites: pd.DataFrame | None,
    biggest: float,
    height: int,
) -> MapLabels:
    """Choose each zone label's and corridor label's side so that they cover each other and markers least.

    Greedy: zones with the nearest neighbours first, then corridor labels; each takes the first of
    :data:`_LABEL_POSITIONS` whose box overlaps least what is already placed and the markers.
    """
    to_px = map_pixels(where, height)
    px = {z: to_px(*p) for z, p in where.items()}
    out = MapLabels()
    half = _ZONE_MARKER_PX / 2
    out.obstacles = [(f"zone:{z}", (x - half, y - half, x + half, y + half)) for z, (x, y) in px.items()]
    if where:  # beyond the longitudes drawn a label is cut off
        lons = [p[0] for p in where.values()]
        left, right = to_px(min(lons) - _MAP_MARGIN_DEG, 0.0)[0], to_px(max(lons) + _MAP_MARGIN_DEG, 0.0)[0]
        out.obstacles += [("edge", (left - 1e4, -1e9, left, 1e9)), ("edge", (right, -1e9, right + 1e4, 1e9))]
    for c in corridors:
        if c.from_zone in px and c.to_zone in px:
            mx, my = (px[c.from_zone][0] + px[c.to_zone][0]) / 2, (px[c.from_zone][1] + px[c.to_zone][1]) / 2
            m = _CORRIDOR_MARKER_PX / 2
            out.obstacles.append((f"mid:{c.id}", (mx - m, my - m, mx + m, my + m)))
    if sites is not None and len(sites):
        for zone in px:
            here = sites[sites["zone"] == zone]
            for angle, size in zip(_site_angles(len(here)), _site_sizes(here["mw"], biggest), strict=True):
                lon, lat = where[zone]
                sx, sy = to_px(lon + _SITE_RING_DEG[0] * math.cos(angle), lat + _SITE_RING_DEG[1] * math.sin(angle))
                out.obstacles.append((f"site:{zone}", (sx - size / 2, sy - size / 2, sx + size / 2, sy + size / 2)))

    def place(key: str, label: _Label) -> str:
        out.boxes.pop(key, None)
        costs = []
        for position in label.preferences:
            box = label_box(label.x, label.y, position, label.text, label.font_px, label.marker_px)
            cost = sum(
                _COVER_WEIGHT * (10.0 if name == "edge" else 1.0) * overlap(box, b)
                for name, b in out.obstacles
                if name not in label.own
            )
            cost += sum(overlap(box, b) for b in out.boxes.values())
            costs.append((cost, position, box))
        _, position, box = min(costs, key=lambda c: c[0])  # min keeps the earliest of equal costs
        out.boxes[key] = box
        return position

    labels = _map_labels(where, corridors, px)
    chosen: dict[str, str] = {}
    for _ in range(4):  # greedy, then again with every other label in place
        chosen = {key: place(key, label) for key, label in labels.items()}
    out.zone_positions = {k.split(":", 1)[1]: v for k, v in chosen.items() if k.startswith("zone:")}
    out.corridor_positions = {k.split(":", 1)[1]: v for k, v in chosen.items() if k.startswith("corridor:")}
    return out


def _limits(corridor: Corridor) -> str:
    """Write a corridor's limits as ``4,000 MW`` (same both ways) or ``2,800/300 MW`` (forward/reverse)."""
    if corridor.forward_mw == corridor.reverse_mw:
        return f"{corridor.forward_mw:,.0f} MW"
    return f"{corridor.forward_mw:,.0f}/{corridor.reverse_mw:,.0f} MW"


def _plain(value: Any) -> Any:
    """Turn a plotly figure dict into plain JSON values: typed arrays decoded, NaN as null."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            raw = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            shape = value.get("shape")
            if shape:
                dims = [int(s) for s in str(shape).split(",")] if isinstance(shape, str) else list(shape)
                raw = raw.reshape(dims)
            return _plain(raw.tolist())
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def chart_specs(page: str) -> list[dict[str, Any]]:
    """Read back the charts of a report page: each one's ``data`` and ``layout`` as plotly gets them.

    Parameters
    ----------
    page
        The HTML text of a report.

    Returns
    -------
    list of dict
        In page order; ``spec["data"][i]["y"]`` are the numbers a trace draws.
    """
    import re

    found = re.findall(
        r'<script type="application/json" class="chart-data" data-chart="[^"]+">(.*?)</script>', page, re.S
    )
    return [json.loads(text) for text in found]


class HtmlReport:
    """Build a report page piece by piece and write it as one self-contained HTML file.

    Parameters
    ----------
    title
        Page title.
    subtitle
        One line under the title (scenario, date, key parameters).
    timezone
        Zone of the generation time shown at the foot of the page.
    """

    def __init__(self, title: str, subtitle: str = "", timezone: str = DISPLAY_TIMEZONE) -> None:
        self.title = title
        self.subtitle = subtitle
        self.timezone = timezone
        self._parts: list[str] = []
        self._charts = 0

    def heading(self, text: str, anchor: str | None = None) -> None:
        """Add a section heading."""
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self._parts.append(f"<h2{ident}>{html.escape(text)}</h2>")

    def paragraph(self, text: str, css_class: str | None = None) -> None:
        """Add a paragraph of plain text."""
        cls = f' class="{css_class}"' if css_class else ""
        self._parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def kpis(self, items: list[tuple[str, str]]) -> None:
        """Add headline figures, each a label over its value."""
        spans = "".join(f'<span class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></span>' for k, v in items)
        self._parts.append(f"<div>{spans}</div>")

    def caution(self, text: str) -> None:
        """Add a highlighted note the reader must not miss."""
        self._parts.append(f'<div class="caution">{html.escape(text)}</div>')

    def bullets(self, items: list[str], css_class: str = "findings") -> None:
        """Add a bulleted list of plain-text items."""
        rows = "".join(f"<li>{html.escape(item)}</li>" for item in items)
        self._parts.append(f'<ul class="{css_class}">{rows}</ul>')

    def table(
        self,
        frame: pd.DataFrame,
        caption: str = "",
        float_format: str = "{:,.1f}",
        index: bool = True,
        formats: dict[str, str] | None = None,
    ) -> None:
        """Add a table in a container that scrolls sideways when it is wider than the page.

        Numbers are formatted with ``formats[column]``, floats else with ``float_format``; write
        rates with ``"{:g}"`` (or :func:`rate_text`) so that 0.25 stays 0.25.
        """
        shown = frame.copy()
        formats = formats or {}
        for col in shown.columns:
            fmt = formats.get(str(col))
            if fmt is None and pd.api.types.is_float_dtype(shown[col]):
                fmt = float_format
            if fmt is not None:
                shown[col] = shown[col].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
        body = shown.to_html(index=index, escape=True, border=0)
        head, sep, rest = body.partition("</thead>")
        body = head.replace("_", "_<wbr>") + sep + rest  # long column names break after an underscore
        cap = f'<p class="note">{html.escape(caption)}</p>' if caption else ""
        self._parts.append(f'<div class="table-wrap">{body}</div>{cap}')

    def chart(self, fig: Any, caption: str = "", alt: str = "") -> None:
        """Add an interactive chart (a plotly figure, e.g. from :func:`new_chart`), drawn offline.

        The figure's data go into the page as plain JSON (read back with :func:`chart_specs`);
        plotly.js is embedded once per page.
        """
        spec = _plain(fig.to_plotly_json())
        payload = json.dumps({"data": spec.get("data", []), "layout": spec.get("layout", {})}, allow_nan=False)
        payload = payload.replace("<", "\\u003c")  # no "</script>" nor "<!--" can end the data block
        ident = f"chart-{self._charts}"
        self._charts += 1
        label = html.escape(alt or caption or "chart")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(
            f'<figure><div class="chart" id="{ident}" role="img" aria-label="{label}"></div>'
            f'<script type="application/json" class="chart-data" data-chart="{ident}">{payload}</script>{cap}</figure>'
        )

    def render(self) -> str:
        """Return the page as HTML text."""
        stamp = datetime.now(UTC).astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M %Z")
        script = ""
        boot = ""
        if self._charts:
            from plotly.offline import get_plotlyjs

            script = f"<script>{get_plotlyjs()}</script>"
            boot = f"<script>{_BOOT}</script>"
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style>{script}</head><body>"
            f'<h1>{html.escape(self.title)}</h1><p class="subtitle">{html.escape(self.subtitle)}</p>'
            + "\n".join(self._parts)
            + f'<p class="note">Generated {stamp} ({self.timezone}) by offtake.</p>{boot}</body></html>\n'
        )

    def write(self, path: str | Path) -> Path:
        """Write the page to ``path`` and return the path."""
        target = Path(path)
        target.write_text(self.render(), encoding="utf-8")
        return target
