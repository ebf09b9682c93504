from __future__ import annotations

from pathlib import Path

import pytest

from offtake import scenario
from offtake.errors import InputError
from offtake.planning import SITE_COLUMNS, read_sites

HEADER = ",".join(SITE_COLUMNS)
GOOD = "s1,op,north,mining,100,10,1.0,24,0.1,10,80"
ZONES = ["north", "south", "city"]


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "sites.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_reads_a_good_file(tmp_path: Path) -> None:
    sites = read_sites(write(tmp_path, GOOD, "s2,op,city,ai,50,0,0.3,4,0.02,600,110"), ZONES)
    assert list(sites.index) == ["s1", "s2"]
    assert sites.loc["s2", "max_curtailment_fraction"] == pytest.approx(0.3)
    assert sites.loc["s1", "kind"] == "mining"


@pytest.mark.parametrize(
    ("row", "line", "field", "words"),
    [
        ("s1,op,nowhere,mining,100,10,1.0,24,0.1,10,80", 2, "zone", "unknown zone"),
        ("s1,op,north,solar,100,10,1.0,24,0.1,10,80", 2, "kind", "mining, ai"),
        ("s1,op,north,mining,abc,10,1.0,24,0.1,10,80", 2, "requested_mw", "expected a number"),
        (
            "s1,op,north,mining,100,10,1.5,24,0.1,10,80",
            2,
            "max_curtailment_fraction",
            "between 0 and 1",
        ),
        ("s1,op,north,mining,100,10,1.0,24,0.1,10,-5", 2, "tariff_usd_per_mwh", ">= 0"),
        ("s1,op,north,mining,100,200,1.0,24,0.1,10,80", 2, "min_size_mw", "larger than requested"),
        ("s1,,north,mining,100,10,1.0,24,0.1,10,80", 2, "operator", "empty"),
    ],
)
def test_bad_values_name_line_and_field(
    tmp_path: Path, row: str, line: int, field: str, words: str
) -> None:
    with pytest.raises(InputError) as err:
        read_sites(write(tmp_path, row), ZONES)
    assert err.value.line == line
    assert err.value.field == field
    assert words in err.value.message
    assert "sites.csv" in str(err.value)


def test_duplicate_site_is_refused_on_its_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_sites(write(tmp_path, GOOD, GOOD), ZONES)
    assert (err.value.line, err.value.field) == (3, "site_id")


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_sites(write(tmp_path, "s1,op", header="site_id,operator"), ZONES)
    assert err.value.field == "zone" and err.value.line == 1
    with pytest.raises(InputError) as err:
        read_sites(write(tmp_path, GOOD + ",x", header=HEADER + ",tarif"), ZONES)
    assert err.value.field == "tarif"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_sites(tmp_path / "nope.csv", ZONES)


def test_bundled_illustrative_sites_fit_the_pakistan_zones() -> None:
    s = scenario.load("pakistan-2025")
    folder = scenario.resolve_path("pakistan-2025")
    sites = read_sites(folder / "sites-illustrative.csv", s.zone_ids)
    assert 15 <= len(sites) <= 25
    assert set(sites["kind"]) == {"mining", "ai"}
    for zone in ("MEPCO", "HESCO", "THAR", "KE", "LESCO", "IESCO", "PESCO", "QESCO", "GEPCO"):
        assert zone in set(sites["zone"])
    assert "ILLUSTRATIVE" in (folder / "SITES.md").read_text(encoding="utf-8")
