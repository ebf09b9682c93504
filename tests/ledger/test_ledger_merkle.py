"""RFC 6962 Merkle tree: known answers, and proofs against a literal reading of the RFC."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offtake.ledger import merkle


def mth(leaves: list[bytes]) -> bytes:
    """MTH as RFC 6962 §2.1 writes it (recursive, on data)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, leaves[:k], b), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


# Test vectors of the Certificate Transparency reference implementation (leaf inputs and
# the roots of the trees over the first 1..8 of them).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _tree(n: int) -> tuple[list[bytes], dict[tuple[int, int], bytes]]:
    data = [f"leaf {i}".encode() for i in range(n)]
    frontier = merkle.Frontier()
    nodes: dict[tuple[int, int], bytes] = {}
    for i, d in enumerate(data):
        leaf = merkle.leaf_hash(d)
        nodes[(0, i)] = leaf
        for level, index, h in frontier.append(leaf):
            nodes[(level, index)] = h
    return data, nodes


def test_known_roots_of_the_ct_reference() -> None:
    frontier = merkle.Frontier()
    for leaf, root in zip(CT_LEAVES, CT_ROOTS, strict=True):
        frontier.append(merkle.leaf_hash(leaf))
        assert frontier.root().hex() == root
    assert merkle.Frontier().root() == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("n", range(1, 40))
def test_root_and_proofs_match_the_rfc_definitions(n: int) -> None:
    data, nodes = _tree(n)
    root = mth(data)
    assert merkle.range_hash(0, n, lambda lv, i: nodes[(lv, i)]) == root
    for m in range(n):
        proof = merkle.hashes_for(merkle.inclusion_proof_ranges(m, n), nodes)
        assert proof == path(m, data)
        assert merkle.verify_inclusion(nodes[(0, m)], m, n, proof, root)
        assert not merkle.verify_inclusion(nodes[(0, (m + 1) % n)], m, n, proof, root) or n == 1
    for first in range(1, n + 1):
        proof = merkle.hashes_for(merkle.consistency_proof_ranges(first, n), nodes)
        assert proof == (subproof(first, data, True) if first < n else [])
        assert merkle.verify_consistency(first, n, mth(data[:first]), root, proof)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 300), data=st.data())
def test_tampered_proofs_fail(n: int, data: st.DataObject) -> None:
    _, nodes = _tree(n)
    root = merkle.range_hash(0, n, lambda lv, i: nodes[(lv, i)])
    m = data.draw(st.integers(0, n - 1))
    proof = merkle.hashes_for(merkle.inclusion_proof_ranges(m, n), nodes)
    assert merkle.verify_inclusion(nodes[(0, m)], m, n, proof, root)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[j] = hashlib.sha256(bad[j]).digest()
        assert not merkle.verify_inclusion(nodes[(0, m)], m, n, bad, root)
        assert not merkle.verify_inclusion(nodes[(0, m)], m, n, proof[:-1], root)
    first = data.draw(st.integers(1, n - 1))
    cproof = merkle.hashes_for(merkle.consistency_proof_ranges(first, n), nodes)
    first_root = merkle.range_hash(0, first, lambda lv, i: nodes[(lv, i)])
    assert merkle.verify_consistency(first, n, first_root, root, cproof)
    assert not merkle.verify_consistency(first, n, hashlib.sha256(first_root).digest(), root, cproof)
    if cproof:
        assert not merkle.verify_consistency(first, n, first_root, root, cproof[1:])


def test_frontier_reports_every_closed_subtree() -> None:
    _, nodes = _tree(37)
    assert {(lv, i) for lv, i in nodes if lv > 0} == {(lv, i) for lv in range(1, 6) for i in range(37 >> lv)}
