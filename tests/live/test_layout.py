"""The grid layout of a feed: zones with positions and corridors, read from scenario.toml alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from offtake.errors import InputError
from offtake.live.layout import feed_layout

DATA = Path(__file__).parents[1] / "data"


def test_the_layout_of_a_feed_spec(tmp_path: Path) -> None:
    assert feed_layout(None) is None
    assert feed_layout("other:thing") is None
    layout = feed_layout(f"scenario:{DATA / 'three-zone'}")
    assert layout is not None and [z.id for z in layout.zones] == ["north", "south", "city"]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "scenario.toml").write_text('[[zones]]\nid = "x"\nlat = 100\nlon = 0\n')
    with pytest.raises(InputError, match="between -90 and 90"):
        feed_layout(f"scenario:{broken}")
