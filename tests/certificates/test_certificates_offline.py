"""Certificates verified offline from an export: replayed, and every forged over-claim found."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from platform_fixtures import T0, World

from offtake.certificates import (
    ShareTable,
    issue_certificates,
    retire_certificate,
    transfer_certificate,
    verify_certificates,
)
from offtake.ledger import MeterReading, ingest_readings
from offtake.ledger.export import export_ledger
from offtake.ledger.signing import Signer
from offtake.persistence.db import session_scope

H = timedelta(hours=1)
NOW = T0 + timedelta(days=2)
SHARES = ShareTable({("LESCO", T0 + i * H): {"wind": 300_000, "hydro": 200_000} for i in range(4)}, "test")


@pytest.fixture
def exported(world: World, tmp_path: Path) -> tuple[Path, Signer, str]:
    """Four hours metered and issued; 1 MWh of wind transferred to op2 and retired by it."""
    signer = Signer.generate()
    with session_scope(world.factory) as s:
        readings = [MeterReading("S1", "M1", T0 + i * H, T0 + (i + 1) * H, 8_000_000 + i) for i in range(4)]
        ingest_readings(s, world.grid, readings, now=NOW)
        issued = issue_certificates(s, world.grid, "S1", T0, T0 + 4 * H, SHARES, now=NOW)
        wind = next(c.id for c in issued.certificates if c.technology == "wind")
        transfer_certificate(s, world.op1, wind, "op1", "op2", 1_000_000, now=NOW)
        retire_certificate(s, world.op2, wind, "op2", 1_000_000, beneficiary="op2 AI", claim="July", now=NOW)
    path = tmp_path / "ledger.txt"
    with world.factory() as s:
        export_ledger(s, path, signer, checkpoint_every=4)
    return path, signer, wind


def forge(path: Path, kind: str, edit: dict[str, object], *, certificate: int | None = None) -> int:
    """Edit the first entry of ``kind`` and recompute its leaf hash (only the roots betray it)."""
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("E\t") and f'"kind":"{kind}"' in line:
            tag, seq, _leaf, data = line.rstrip("\n").split("\t", 3)
            body = json.loads(data)
            (body if certificate is None else body["certificates"][certificate]).update(edit)
            new = json.dumps(body, sort_keys=True, separators=(",", ":"))
            leaf = hashlib.sha256(b"\x00" + new.encode()).hexdigest()
            lines[i] = f"{tag}\t{seq}\t{leaf}\t{new}\n"
            path.write_text("".join(lines))
            return int(seq)
    raise AssertionError(f"no {kind} entry")


def test_an_intact_export_replays(exported: tuple[Path, Signer, str]) -> None:
    path, signer, _wind = exported
    report = verify_certificates(path, signer.public_key)
    assert report.ok, [str(f) for f in report.findings + report.ledger.findings]
    assert report.certificates == 8 and report.transfers == 1
    expected = sum((8_000_000 + i) * 300_000 // 10**6 + (8_000_000 + i) * 200_000 // 10**6 for i in range(4))
    assert report.issued_wh == expected
    assert report.retired_wh == 1_000_000 and report.held_wh == expected - 1_000_000


def test_a_forged_retirement_over_claim_is_found(exported: tuple[Path, Signer, str]) -> None:
    path, signer, wind = exported
    seq = forge(path, "cert_retire", {"volume_wh": 2_000_000})
    report = verify_certificates(path, signer.public_key)
    assert not report.ok and not report.ledger.ok  # the Merkle roots no longer match
    [finding] = report.findings
    assert (finding.kind, finding.first_seq) == ("over-claim", seq)
    assert wind in finding.message and "retires 2000000 Wh but holds 1000000 Wh" in finding.message


def test_a_forged_issued_volume_is_found(exported: tuple[Path, Signer, str]) -> None:
    path, signer, _wind = exported
    seq = forge(path, "cert_issue", {"volume_wh": 9_000_000}, certificate=1)
    report = verify_certificates(path, signer.public_key)
    first, *later = report.findings
    assert first.first_seq == seq and "over-claim" in first.message
    # the refused issuance created nothing: the wind certificate's transfer and retirement follow it
    assert [f.first_seq for f in later] == [seq + 1, seq + 2]
    assert all("never issued" in f.message for f in later)


def test_an_inflated_consumption_is_found(exported: tuple[Path, Signer, str]) -> None:
    path, signer, _wind = exported
    forge(path, "cert_issue", {"consumption_wh": 16_000_000, "volume_wh": 4_800_000}, certificate=1)
    report = verify_certificates(path, signer.public_key)
    assert any("readings show 8000000 Wh" in f.message for f in report.findings)


def test_a_double_issuance_is_found(exported: tuple[Path, Signer, str]) -> None:
    """A transfer rewritten into a second issuance of the same readings."""
    path, signer, _wind = exported
    lines = path.read_text().splitlines(keepends=True)
    issue_line = next(line for line in lines if '"kind":"cert_issue"' in line)
    body = json.loads(issue_line.rstrip("\n").split("\t", 3)[3])
    seq = forge(path, "cert_transfer", {})
    body["seq"] = seq
    for n, cert in enumerate(body["certificates"]):
        cert["id"] = f"GC-{seq}-{n}"
    lines = path.read_text().splitlines(keepends=True)
    i = next(i for i, line in enumerate(lines) if line.startswith(f"E\t{seq}\t"))
    new = json.dumps(body, sort_keys=True, separators=(",", ":"))
    leaf = hashlib.sha256(b"\x00" + new.encode()).hexdigest()
    lines[i] = f"E\t{seq}\t{leaf}\t{new}\n"
    path.write_text("".join(lines))
    report = verify_certificates(path, signer.public_key)
    assert any("double issuance" in f.message for f in report.findings)


@pytest.mark.parametrize(
    ("kind", "edit"),
    [
        ("cert_issue", {"operator": None}),
        ("cert_issue", {"readings": "all"}),
        ("cert_issue", {"certificates": {"id": "GC-0-0"}}),
        ("cert_retire", {"claim": ""}),
        ("cert_transfer", {"to": 7}),
        ("cert_transfer", {"volume_wh": "1000000"}),
    ],
)
def test_a_malformed_certificate_entry_is_a_finding_not_a_crash(
    exported: tuple[Path, Signer, str], kind: str, edit: dict[str, object]
) -> None:
    path, signer, _wind = exported
    seq = forge(path, kind, edit)
    report = verify_certificates(path, signer.public_key)
    assert report.findings and report.findings[0].first_seq == seq
    assert "malformed" in report.findings[0].message
