from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Test helper modules (pypsa_peer, planning_fixtures, ...) are imported by name.
sys.path.insert(0, str(Path(__file__).parent))

DATA = Path(__file__).parent / "data"

# Database, registry and server fixtures shared by the platform tests.
pytest_plugins = ["platform_fixtures"]

# Property tests draw the same examples on every run, so a CI result can be reproduced.
settings.register_profile("offtake", derandomize=True, deadline=None)
settings.load_profile("offtake")


@pytest.fixture
def three_zone_copy(tmp_path: Path) -> Path:
    """A writable copy of the three-zone test scenario."""
    target = tmp_path / "three-zone"
    shutil.copytree(DATA / "three-zone", target)
    return target
