"""Usage errors: named as the user typed them, with close matches, exit status 2; no 'unexpected failure'."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def offtake(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``offtake`` entry point (``python -m offtake``) as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "offtake", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def assert_usage_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    text = result.stdout + result.stderr
    assert result.returncode == 2, text
    assert "unexpected failure" not in text and "Traceback" not in text, text
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_missing_option_is_named_as_typed(tmp_path: Path) -> None:
    result = offtake("plan", "--scenario", "pakistan-2025", "--sites", "x.csv", "--out", str(tmp_path / "p"))
    assert_usage_error(result, "Missing option '--cap-mw'", "Usage: offtake plan")
    assert "cap_mw" not in result.stderr


def test_missing_argument_is_named(tmp_path: Path) -> None:
    assert_usage_error(offtake("ledger", "verify", "--public-key", "k.pem"), "Missing argument")


def test_typo_in_a_command_suggests_the_command() -> None:
    assert_usage_error(offtake("plann"), "No such command 'plann'", "Did you mean 'plan'")
    assert_usage_error(offtake("registry", "bil"), "No such command 'bil'", "Did you mean 'bill'")


def test_typo_in_an_option_suggests_the_option(tmp_path: Path) -> None:
    result = offtake("plan", "--cap-m", "5", "--scenario", "pakistan-2025")
    assert_usage_error(result, "No such option: --cap-m", "--cap-mw")
    result = offtake("dispatch", "run-once", "--fed", "scenario:pakistan-2025")
    assert_usage_error(result, "No such option: --fed", "--feed")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("plan", "--cap-mw", "two thousand"), "'--cap-mw'"),
        (("risk", "--paths", "1.5"), "'--paths'"),
        (("ledger", "export", "x.txt", "--checkpoint-every", "many"), "'--checkpoint-every'"),
    ],
)
def test_a_bad_number_names_the_option(args: tuple[str, ...], option: str) -> None:
    assert_usage_error(offtake(*args), f"Invalid value for {option}")


def test_bare_command_prints_help_and_exits_2() -> None:
    result = offtake()
    assert result.returncode == 2, result.stderr
    help_text = result.stdout + result.stderr
    for command in ("assess", "plan", "registry", "ledger", "dispatch"):
        assert command in help_text
    assert "unexpected failure" not in help_text and "Error" not in help_text


def test_bare_group_prints_its_help_and_exits_2() -> None:
    result = offtake("registry")
    assert result.returncode == 2
    assert "import-allocation" in result.stdout + result.stderr


def test_help_exits_0() -> None:
    result = offtake("--help")
    assert result.returncode == 0 and "plan" in result.stdout


def test_an_offtake_error_is_one_line_with_status_2(tmp_path: Path) -> None:
    result = offtake("scenario", "check", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
