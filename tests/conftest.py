from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def three_zone_copy(tmp_path: Path) -> Path:
    """A writable copy of the three-zone test scenario."""
    target = tmp_path / "three-zone"
    shutil.copytree(DATA / "three-zone", target)
    return target
