import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from report_checks import assert_self_contained

ROOT = Path(__file__).resolve().parents[2]


def offtake(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "offtake", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def test_cli_risk_writes_report_and_is_reproducible(tmp_path: Path) -> None:
    args = [
        "risk",
        "--scenario",
        "tests/data/three-zone",
        "--allocation",
        "tests/data/allocations/three-zone.csv",
        "--paths",
        "600",
        "--months",
        "12",
        "--seed",
        "5",
    ]
    first = offtake(*args, "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    assert "absorbed P50" in first.stdout
    assert "risk: block" in first.stderr  # progress on stderr
    second = offtake(*args, "--out", str(tmp_path / "b"))
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "a" / "paths.csv").read_bytes() == (tmp_path / "b" / "paths.csv").read_bytes()
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["paths"] == 600 and summary["seed"] == 5
    assert "no_subsidy_test" in summary
    html = (tmp_path / "a" / "report.html").read_text()
    # 3 histograms, 5 fan charts, the tariff chart, the tornado; no gas-price fan: the scenario burns no RLNG
    assert len(assert_self_contained(html)) == 10
    assert "no plant of rlng_ccgt in three-zone; the gas price moves nothing" in first.stderr
    drivers = (tmp_path / "a" / "drivers.csv").read_text().splitlines()
    assert drivers[0].startswith("driver,") and any(line.startswith("gas price,") for line in drivers)


def test_cli_risk_bad_allocation_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "alloc.csv"
    bad.write_text("site_id,zone\nx,north\n", encoding="utf-8")
    done = offtake(
        "risk",
        "--scenario",
        "tests/data/three-zone",
        "--allocation",
        str(bad),
        "--paths",
        "10",
        "--out",
        str(tmp_path / "o"),
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "alloc.csv:1" in done.stderr and "operator" in done.stderr


def test_cli_risk_counts_import_tax_only_when_asked(tmp_path: Path) -> None:
    args = [
        "risk",
        "--scenario",
        "tests/data/three-zone",
        "--allocation",
        "tests/data/allocations/three-zone.csv",
        "--paths",
        "50",
        "--months",
        "3",
        "--seed",
        "1",
    ]
    default = offtake(*args, "--out", str(tmp_path / "d"))
    counted = offtake(*args, "--count-import-tax", "--out", str(tmp_path / "c"))
    assert default.returncode == 0 and counted.returncode == 0, default.stderr + counted.stderr
    assert re.search(r"P\(miner leaves\) (\d+(\.\d+)? %|[<>] \S+ %);", default.stdout), default.stdout
    d = json.loads((tmp_path / "d" / "summary.json").read_text())
    c = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert d["incentives"]["import_tax_counted"] is False and c["incentives"]["import_tax_counted"] is True
    waived = d["incentives"]["import_tax_waived_usd"]
    assert waived > 0
    assert d["country_expected"]["import taxes forgone"]["USD"] == 0.0
    assert c["country_expected"]["net gain"]["USD"] == pytest.approx(d["country_expected"]["net gain"]["USD"] - waived)
    page = (tmp_path / "d" / "report.html").read_text()
    assert "Counterfactual" in page
    findings = re.findall(r"<li>(.*?)</li>", page.split('class="findings"', 1)[1].split("</ul>", 1)[0], re.S)
    plain = [re.sub(r"\b(incl|e\.g|i\.e)\.", "", f) for f in findings]  # abbreviations are not sentence ends
    assert findings and not [f for f in plain if re.search(r"\. [a-z]", f)]  # every sentence starts upper-case
