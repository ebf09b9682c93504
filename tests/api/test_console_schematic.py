"""The control room's schematic map: every zone placed inside the drawing, coloured by use."""

from __future__ import annotations

from offtake.api.console.schematic import HEIGHT, WIDTH, ZONE_COLOURS, schematic_map
from offtake.api.console.views import ZoneRow
from offtake.live.layout import GridLayout, feed_layout
from offtake.scenario import Zone


def test_every_pakistan_zone_is_drawn_inside_the_map_with_its_own_colour() -> None:
    layout = feed_layout("scenario:pakistan-2025")
    assert layout is not None
    drawing = schematic_map(
        layout, [ZoneRow(z.id, 100.0 * (i + 1), caps_mw=50.0 * i) for i, z in enumerate(layout.zones)]
    )
    assert [z.id for z in drawing.zones] == [z.id for z in layout.zones]
    assert drawing.unplaced == []
    for z in drawing.zones:
        assert z.r <= z.x <= WIDTH - z.r and z.r <= z.y <= HEIGHT - z.r, z.id
    assert len({z.colour for z in drawing.zones}) == 11 == len(ZONE_COLOURS)
    assert len({(z.x, z.y) for z in drawing.zones}) == 11
    by_id = {z.id: z for z in drawing.zones}
    assert by_id["PESCO"].y < by_id["KE"].y and by_id["QESCO"].x < by_id["LESCO"].x  # north up, east right
    assert len(drawing.lines) == len(layout.corridors)
    assert "11 zones" in drawing.description


def test_fill_follows_the_share_of_deliverable_the_caps_use() -> None:
    zones = tuple(Zone(z, z, "", lat, 70.0) for z, lat in (("a", 30.0), ("b", 29.0), ("c", 28.0), ("d", 27.0)))
    rows = [ZoneRow("a", 0.0), ZoneRow("b", 100.0, caps_mw=10.0), ZoneRow("c", 100.0, caps_mw=60.0),
            ZoneRow("d", 100.0, caps_mw=100.0, emergency=True)]  # fmt: skip
    drawing = schematic_map(GridLayout(zones, ()), rows)
    use = {z.id: z.use_class for z in drawing.zones}
    assert use == {"a": "use-0", "b": "use-1", "c": "use-3", "d": "use-5"}
    assert [z.id for z in drawing.zones if z.emergency] == ["d"]
    assert {z.id: z.r for z in drawing.zones}["a"] < {z.id: z.r for z in drawing.zones}["d"]


def test_zones_without_a_position_or_unknown_to_the_scenario_are_listed_not_drawn() -> None:
    zones = (Zone("a", "A", "", 30.0, 70.0), Zone("b", "B", ""))
    drawing = schematic_map(GridLayout(zones, ()), [ZoneRow("a", 1.0), ZoneRow("ghost", 1.0)])
    assert [z.id for z in drawing.zones] == ["a"]
    assert drawing.unplaced == ["b", "ghost"]
    assert 0 < drawing.zones[0].x < WIDTH and 0 < drawing.zones[0].y < HEIGHT  # one point is centred
