"""The README can be followed as written: every ``bash`` block runs, and every dependency is bounded and named.

Blocks preceded by ``<!-- readme-test: skip (reason) -->`` (the set-up and the test suite, the server that
runs until stopped) are left out by that marker; the others run in order, verbatim, in one temporary folder
with its own SQLite database and data folder, with ``offtake`` on the PATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIP = re.compile(r"<!-- readme-test: skip \((?P<reason>[^)]+)\) -->\s*$")
FENCE = re.compile(r"^```bash\n(?P<body>.*?)^```$", re.DOTALL | re.MULTILINE)


def bash_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """(line, body, skip reason or None) of every bash block."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = SKIP.match(before)
        line = text.count("\n", 0, match.start()) + 1
        blocks.append((line, match.group("body"), marker.group("reason") if marker else None))
    return blocks


def test_the_markers_skip_only_set_up_tests_and_the_server() -> None:
    blocks = bash_blocks(README.read_text(encoding="utf-8"))
    skipped = [body for _, body, reason in blocks if reason]
    assert len(skipped) == 3
    assert any("python3 -m venv" in b for b in skipped) and any("scripts/test" in b for b in skipped)
    assert any("offtake serve" in b for b in skipped)
    assert sum(reason is None for _, _, reason in blocks) >= 6


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_every_readme_command_block_runs_as_written(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "offtake"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m offtake "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFTAKE_")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        PYTHONPATH=str(ROOT / "src"),
        OFFTAKE_DATA_DIR=str(work / "offtake-data"),
    )
    outputs = []
    for line, body, reason in bash_blocks(README.read_text(encoding="utf-8")):
        if reason:
            continue
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", body],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert result.returncode == 0, f"README.md:{line} failed:\n{body}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    text = "\n".join(outputs)
    assert "unexpected failure" not in text
    bills = re.findall(
        r"energy +USD ([0-9.,]+)\n +penalty USD ([0-9.,]+)\n +total +USD ([0-9.,]+) +PKR ([0-9.,]+)\n"
        r" +rate +([0-9.]+) PKR/USD",
        text,
    )
    assert len(bills) == 2, text
    for energy, penalty, total, pkr, rate in bills:  # the lines add up as printed, PKR at the stated rate
        assert _amount(energy) + _amount(penalty) == _amount(total) > 0
        assert abs(_amount(total) * _amount(rate) - _amount(pkr)) <= Decimal("0.01")
    assert "contracts from 2025-07-01T00:00:00+05:00" in text  # Pakistan time, as the user typed it
    assert "PKR None" not in text
    assert '"sites": 2' in text and '"suspended"' not in text
    assert "OK: entry" in text and "OK: " in text
    assert (work / "out" / "plan" / "allocation.csv").is_file()


def _amount(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in [*project["dependencies"], *extras]]


def test_every_dependency_has_an_upper_bound_and_a_pinned_version_inside_it() -> None:
    pins = {}
    for raw in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            name, _, version = raw.partition("==")
            pins[name.strip().lower().replace("_", "-")] = Version(version.strip())
    for requirement in _requirements():
        uppers = [s for s in requirement.specifier if s.operator in ("<", "<=", "~=", "==")]
        assert uppers, f"{requirement} has no upper bound"
        name = requirement.name.lower()
        assert name in pins, f"{name} is not pinned in constraints.txt"
        inside = requirement.specifier.contains(pins[name], prereleases=True)
        assert inside, f"{name}=={pins[name]} not in {requirement}"


def test_the_readme_says_why_each_runtime_dependency_is_there() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Dependencies") : text.index("## Benchmarks")]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for raw in project["dependencies"]:
        name = Requirement(raw).name.lower()
        assert re.search(rf"\b{re.escape(name)}\b", section.lower()), f"README's Dependencies does not name {name}"
    assert "constraints.txt" in text and "scripts/test --newest" in text
