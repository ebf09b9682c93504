"""The control room's schematic map: zones at their positions, corridors as lines, drawn as inline SVG.

Server-rendered, no chart library: this module only computes the drawing (positions in the
SVG's own units, radii, colours, labels) from the grid feed's layout and the latest round's
zones; ``control_map.html`` writes it out. Each zone keeps one of 11 distinguishable colours
(its ring and its swatch in the zones table) and is filled by how much of its deliverable
power the caps use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from offtake.api.console.views import ZoneRow
from offtake.live.layout import GridLayout
from offtake.report import ZONE_PALETTE, zone_colours

__all__ = ["USE_CLASSES", "ZONE_COLOURS", "SchematicMap", "schematic_map", "zone_colours"]

#: Ring colours of up to 11 zones, in scenario order: the reports' palette (one zone, one colour everywhere).
ZONE_COLOURS = ZONE_PALETTE
#: Fill classes by share of deliverable power the caps use: (upper bound [-], class, label).
USE_CLASSES = (
    (0.25, "use-1", "under 25 %"),
    (0.50, "use-2", "25–50 %"),
    (0.75, "use-3", "50–75 %"),
    (1.0 - 1e-9, "use-4", "75–100 %"),
    (math.inf, "use-5", "fully used"),
)
#: Size of the drawing [SVG units] and its margin round the zones.
WIDTH, HEIGHT, MARGIN = 640.0, 600.0, 60.0
#: Radius of a zone circle: smallest and added for the largest deliverable power [SVG units].
R_MIN, R_SPAN = 8.0, 16.0
#: Room kept between two zone circles for their labels [SVG units], and the passes that make it.
GAP, PASSES = 44.0, 80


@dataclass
class MapZone:
    """One zone as drawn."""

    id: str
    name: str
    x: float
    y: float
    r: float
    colour: str
    use_class: str
    use_label: str
    budget_mw: float
    caps_mw: float
    emergency: bool


@dataclass
class MapLine:
    """One corridor as drawn."""

    id: str
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    title: str


@dataclass
class SchematicMap:
    """The drawing: zones, corridors, zones without a position, and a text summary for screen readers."""

    width: float
    height: float
    zones: list[MapZone] = field(default_factory=list)
    lines: list[MapLine] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)
    description: str = ""
    colours: dict[str, str] = field(default_factory=dict)
    legend: list[tuple[str, str]] = field(default_factory=lambda: [(c, label) for _, c, label in USE_CLASSES])


def _use(row: ZoneRow | None) -> tuple[str, str]:
    if row is None or row.budget_mw <= 0:
        return "use-0", "nothing deliverable"
    share = row.caps_mw / row.budget_mw
    return next((cls, label) for bound, cls, label in USE_CLASSES if share <= bound)


def _project(points: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Place (lat, lon) points in the drawing: equirectangular at the mean latitude, fitted to the margins."""
    if not points:
        return {}
    scale_x = math.cos(math.radians(sum(lat for lat, _ in points.values()) / len(points)))
    xs = {z: lon * scale_x for z, (_, lon) in points.items()}
    ys = {z: -lat for z, (lat, _) in points.items()}
    span_x = (max(xs.values()) - min(xs.values())) or 1.0
    span_y = (max(ys.values()) - min(ys.values())) or 1.0
    k = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
    x0 = (WIDTH - k * span_x) / 2 - k * min(xs.values())
    y0 = (HEIGHT - k * span_y) / 2 - k * min(ys.values())
    return {z: (round(x0 + k * xs[z], 1), round(y0 + k * ys[z], 1)) for z in points}


def _separate(points: dict[str, tuple[float, float]], radii: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Push apart circles closer than their radii and :data:`GAP` (a schematic, not a survey), then refit.

    Each pass moves both circles of a crowded pair half the shortfall along the line
    joining them; the result is shrunk back into the margins if it grew past them.
    """
    at = {z: [x, y] for z, (x, y) in points.items()}
    ids = sorted(at)
    for _ in range(PASSES):
        moved = False
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                dx, dy = at[b][0] - at[a][0], at[b][1] - at[a][1]
                distance = math.hypot(dx, dy)
                short = radii[a] + radii[b] + GAP - distance
                if short <= 0:
                    continue
                ux, uy = (dx / distance, dy / distance) if distance > 1e-6 else (1.0, 0.0)
                at[a][0] -= ux * short / 2
                at[a][1] -= uy * short / 2
                at[b][0] += ux * short / 2
                at[b][1] += uy * short / 2
                moved = True
        if not moved:
            break
    xs, ys = [p[0] for p in at.values()], [p[1] for p in at.values()]
    k = min(1.0, (WIDTH - 2 * MARGIN) / ((max(xs) - min(xs)) or 1.0))
    k = min(k, (HEIGHT - 2 * MARGIN) / ((max(ys) - min(ys)) or 1.0))
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return {z: (round(WIDTH / 2 + k * (x - cx), 1), round(HEIGHT / 2 + k * (y - cy), 1)) for z, (x, y) in at.items()}


def schematic_map(layout: GridLayout, rows: list[ZoneRow]) -> SchematicMap:
    """Draw ``layout`` with the latest round's ``rows`` (deliverable, caps, emergencies per zone [MW])."""
    by_zone = {r.zone: r for r in rows}
    drawing = SchematicMap(WIDTH, HEIGHT)
    positions = _project({z.id: (z.lat, z.lon) for z in layout.zones if z.lat is not None and z.lon is not None})
    colours = zone_colours([z.id for z in layout.zones])
    drawing.colours = colours
    largest = max((r.budget_mw for r in rows), default=0.0)
    radii = {
        z: R_MIN + (R_SPAN * math.sqrt(by_zone[z].budget_mw / largest) if largest > 0 and z in by_zone else 0.0)
        for z in positions
    }
    if positions:
        positions = _separate(positions, radii)
    for zone in layout.zones:
        if zone.id not in positions:
            drawing.unplaced.append(zone.id)
            continue
        row = by_zone.get(zone.id)
        budget = row.budget_mw if row else 0.0
        use_class, use_label = _use(row)
        x, y = positions[zone.id]
        r = radii[zone.id]
        drawing.zones.append(
            MapZone(zone.id, zone.name, x, y, round(r, 1), colours[zone.id], use_class, use_label, budget,
                    row.caps_mw if row else 0.0, bool(row and row.emergency))
        )  # fmt: skip
    drawing.unplaced += sorted(set(by_zone) - {z.id for z in layout.zones})
    widest = max((max(c.forward_mw, c.reverse_mw) for c in layout.corridors), default=0.0)
    for c in layout.corridors:
        if c.from_zone not in positions or c.to_zone not in positions:
            continue
        (x1, y1), (x2, y2) = positions[c.from_zone], positions[c.to_zone]
        limit = max(c.forward_mw, c.reverse_mw)
        width = 1.5 + (4.5 * limit / widest if widest > 0 else 0.0)
        title = f"{c.id}: {c.from_zone} to {c.to_zone} {c.forward_mw:,.0f} MW, back {c.reverse_mw:,.0f} MW"
        drawing.lines.append(MapLine(c.id, x1, y1, x2, y2, round(width, 1), title))
    drawing.description = _describe(drawing)
    return drawing


def _describe(drawing: SchematicMap) -> str:
    parts = [
        f"{z.id}: caps {z.caps_mw:,.1f} of {z.budget_mw:,.1f} MW deliverable ({z.use_label})"
        + ("; emergency in force" if z.emergency else "")
        for z in drawing.zones
    ]
    return (
        f"{len(drawing.zones)} zones and {len(drawing.lines)} corridors. " + ". ".join(parts) + "."
        if parts
        else "No zone has a map position."
    )
