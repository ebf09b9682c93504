"""Offline export verification: every altered, removed, reordered or truncated entry is found."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from platform_fixtures import T0, World

from offtake.ledger import MeterReading, ingest_readings, merkle
from offtake.ledger.export import export_ledger, verify_export
from offtake.ledger.signing import Signer
from offtake.ledger.store import make_checkpoint
from offtake.persistence.db import session_scope

H = timedelta(hours=1)
N = 60  # readings; plus 10 registry entries from the world


@pytest.fixture
def exported(world: World, tmp_path: Path) -> tuple[Path, Signer, list[str]]:
    signer = Signer.generate()
    with session_scope(world.factory) as s:
        ingest_readings(
            s,
            world.grid,
            [MeterReading("S1", "m1", T0 + i * H, T0 + (i + 1) * H, 1000 + i) for i in range(30)],
        )
        make_checkpoint(s, signer)
        ingest_readings(
            s,
            world.grid,
            [MeterReading("S2", "m1", T0 + i * H, T0 + (i + 1) * H, 7 + i) for i in range(30)],
        )
    path = tmp_path / "ledger.txt"
    with world.factory() as s:
        summary = export_ledger(s, path, signer, checkpoint_every=16)
    assert summary.entries == N + 10
    return path, signer, path.read_text().splitlines(keepends=True)


def entry_line(lines: list[str], seq: int) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(f"E\t{seq}\t"))


def check(path: Path, lines: list[str], signer: Signer) -> list[tuple[str, int | None, int | None, int | None]]:
    path.write_text("".join(lines))
    report = verify_export(path, signer.public_key)
    return [(f.kind, f.line, f.first_seq, f.last_seq) for f in report.findings]


def test_an_intact_export_verifies(exported: tuple[Path, Signer, list[str]]) -> None:
    path, signer, lines = exported
    report = verify_export(path, signer.public_key)
    assert report.ok and report.entries == 70
    # the ledger checkpoint at 40, export checkpoints at 16, 32, 48, 64 and the trailer
    assert report.checkpoints == 6
    leaves = [merkle.leaf_hash(line.rstrip("\n").split("\t", 3)[3].encode()) for line in lines if line[0] == "E"]
    assert report.root == merkle.root_from_leaf_hashes(leaves)


def test_an_altered_entry_is_located_exactly(exported: tuple[Path, Signer, list[str]]) -> None:
    path, signer, lines = exported
    i = entry_line(lines, 20)
    lines[i] = lines[i].replace('"energy_wh":1010', '"energy_wh":1011')
    found = check(path, lines, signer)
    assert found[0] == ("altered", i + 1, 20, 20)
    assert ("altered", None, 16, 31) in [(k, None, a, b) for k, _line, a, b in found[1:]]


def test_an_entry_altered_with_its_hash_is_located_to_a_checkpoint_range(
    exported: tuple[Path, Signer, list[str]],
) -> None:
    path, signer, lines = exported
    i = entry_line(lines, 50)
    tag, seq, _old, data = lines[i].rstrip("\n").split("\t", 3)
    data = data.replace('"energy_wh":', '"energy_wh":9')
    lines[i] = "\t".join((tag, seq, merkle.leaf_hash(data.encode()).hex(), data)) + "\n"
    found = check(path, lines, signer)
    assert found and all(kind == "altered" for kind, *_ in found)
    first = found[0]
    assert (first[2], first[3]) == (48, 63)  # between the export checkpoints at 48 and 64
    assert 48 <= 50 <= 63


def test_a_removed_entry_is_found(exported: tuple[Path, Signer, list[str]]) -> None:
    path, signer, lines = exported
    i = entry_line(lines, 33)
    del lines[i]
    found = check(path, lines, signer)
    assert found[0] == ("removed", i + 1, 33, 33)


def test_reordered_entries_are_found(exported: tuple[Path, Signer, list[str]]) -> None:
    path, signer, lines = exported
    i, j = entry_line(lines, 5), entry_line(lines, 6)
    lines[i], lines[j] = lines[j], lines[i]
    found = check(path, lines, signer)
    assert ("reordered", j + 1, 5, 5) in found
    # and renumbered to hide it: the leaf hashes bind each entry to its position
    i, j = entry_line(lines, 6), entry_line(lines, 5)
    lines[i], lines[j] = lines[j], lines[i]
    a, b = lines[entry_line(lines, 7)], lines[entry_line(lines, 8)]
    a_parts, b_parts = a.split("\t", 2), b.split("\t", 2)
    lines[entry_line(lines, 7)] = "\t".join([a_parts[0], "8", a_parts[2]])
    lines[entry_line(lines, 8)] = "\t".join([b_parts[0], "7", b_parts[2]])
    found = check(path, lines, signer)
    assert found and found[0][0] == "altered" and found[0][2] == 0 and found[0][3] == 15


def test_truncation_is_found(exported: tuple[Path, Signer, list[str]]) -> None:
    path, signer, lines = exported
    found = check(path, lines[: entry_line(lines, 55)], signer)
    assert found == [("truncated", entry_line(lines, 55), 48, None)]
    found = check(path, lines[:-1], signer)  # only the trailer removed
    assert [k for k, *_ in found] == ["truncated"]


def test_a_forged_checkpoint_or_wrong_key_fails(exported: tuple[Path, Signer, list[str]]) -> None:
    path, signer, lines = exported
    i = next(k for k, line in enumerate(lines) if line.startswith("C\t"))
    body = json.loads(lines[i][2:])
    body["root"] = "00" * 32
    lines[i] = "C\t" + json.dumps(body) + "\n"
    assert check(path, lines, signer)[0][:2] == ("signature", i + 1)
    path.write_text("".join(exported[2]))
    report = verify_export(path, Signer.generate().public_key)
    assert not report.ok and report.findings[0].kind == "key"
    assert {f.kind for f in report.findings} == {"key", "signature"}  # every checkpoint and the trailer
