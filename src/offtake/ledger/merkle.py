"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

Leaf hash ``SHA-256(0x00 || data)``; interior node ``SHA-256(0x01 || left || right)``; the
tree over ``n`` leaves splits at the largest power of two smaller than ``n``. The hash of
the empty tree is ``SHA-256("")``.

Every subtree the proofs need is a *range* ``[start, end)`` of leaves whose hash is built
from complete (perfect) subtrees ``(level, index)`` covering ``[index * 2**level,
(index + 1) * 2**level)``. :func:`perfect_nodes` lists them, so a store can fetch all the
hashes a proof needs in one query.

Examples
--------
Three leaves: the first two pair up under one node, the third joins it at the root.

>>> a, b, c = (leaf_hash(data) for data in (b"a", b"b", b"c"))
>>> root = root_from_leaf_hashes([a, b, c])
>>> root == node_hash(node_hash(a, b), c)
True

The audit path of leaf 2 is the hash of leaves ``[0, 2)``; it proves ``c`` is in the tree
and nothing else is at its place:

>>> inclusion_proof_ranges(2, 3)
[(0, 2)]
>>> verify_inclusion(c, 2, 3, [node_hash(a, b)], root)
True
>>> verify_inclusion(leaf_hash(b"x"), 2, 3, [node_hash(a, b)], root)
False

Growing from two leaves to three only appended: the consistency proof is the new leaf.

>>> consistency_proof_ranges(2, 3)
[(2, 3)]
>>> verify_consistency(2, 3, node_hash(a, b), root, [c])
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "consistency_proof_ranges",
    "hashes_for",
    "inclusion_proof_ranges",
    "leaf_hash",
    "node_hash",
    "perfect_nodes",
    "range_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256

#: Root hash of the empty tree.
EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Return ``SHA-256(0x00 || data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """Incremental Merkle tree: the roots of the complete subtrees of the current tree.

    Appending a leaf costs one hash on average. :meth:`append` returns the complete
    subtrees it closed, so a store can persist every ``(level, index)`` node.

    Parameters
    ----------
    size
        Number of leaves already in the tree.
    nodes
        Hashes of the complete subtrees of that tree, largest (leftmost) first, as given
        by :func:`perfect_nodes` ``(0, size)``.
    """

    __slots__ = ("_nodes", "size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if len(nodes) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} frontier nodes")
        self.size = size
        self._nodes = list(nodes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the complete subtrees ``(level, index, hash)`` it closed."""
        closed: list[tuple[int, int, bytes]] = []
        node = leaf
        index = self.size
        level = 0
        nodes = self._nodes
        while index & 1:
            node = _sha256(b"\x01" + nodes.pop() + node).digest()
            index >>= 1
            level += 1
            closed.append((level, index, node))
        nodes.append(node)
        self.size += 1
        return closed

    def nodes(self) -> list[bytes]:
        """Return the hashes of the complete subtrees, largest first (as the constructor takes them)."""
        return list(self._nodes)

    def root(self) -> bytes:
        """Return the Merkle root of the current tree."""
        nodes = self._nodes
        if not nodes:
            return EMPTY_ROOT
        node = nodes[-1]
        for left in reversed(nodes[:-1]):
            node = _sha256(b"\x01" + left + node).digest()
        return node


def perfect_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """Complete subtrees ``(level, index)`` whose concatenation is the range ``[start, end)``.

    ``start`` must be aligned as in the RFC 6962 tree: a multiple of the largest power of two
    not larger than ``end - start`` (true for every range a proof uses). Largest first.
    """
    out: list[tuple[int, int]] = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1
        width = 1 << level
        if start % width:
            raise ValueError(f"range [{start}, {end}) is not aligned to the tree")
        out.append((level, start >> level))
        start += width
    return out


def range_hash(start: int, end: int, node: Callable[[int, int], bytes]) -> bytes:
    """Hash of the RFC 6962 subtree over leaves ``[start, end)``.

    Parameters
    ----------
    start, end
        Leaf range, aligned as :func:`perfect_nodes` requires.
    node
        Returns the hash of the complete subtree ``(level, index)``.
    """
    parts = [node(level, index) for level, index in perfect_nodes(start, end)]
    if not parts:
        return EMPTY_ROOT
    acc = parts[-1]
    for left in reversed(parts[:-1]):
        acc = node_hash(left, acc)
    return acc


def inclusion_proof_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Ranges ``[start, end)`` whose hashes form the audit path of leaf ``index`` (RFC 9162 2.1.3).

    Listed from the leaf upwards, the order in which they appear in the proof.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start = start + k
    ranges.reverse()
    return ranges


def consistency_proof_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Ranges whose hashes form the consistency proof from size ``first`` to ``second``.

    Implements SUBPROOF of RFC 9162 §2.1.4; empty when ``first`` is 0 or equals ``second``.
    """
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first in (0, second):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, m, whole = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            break
        k = _split(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    ranges.reverse()
    return ranges


def hashes_for(ranges: Iterable[tuple[int, int]], nodes: Mapping[tuple[int, int], bytes]) -> list[bytes]:
    """Hashes of ``ranges`` from a mapping of complete-subtree hashes."""
    return [range_hash(a, b, lambda level, index: nodes[(level, index)]) for a, b in ranges]


def root_from_leaf_hashes(leaves: Iterable[bytes]) -> bytes:
    """Merkle root of a sequence of leaf hashes."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Check an inclusion proof (RFC 9162 §2.1.3.2).

    Parameters
    ----------
    leaf
        Leaf hash (``leaf_hash(data)``).
    index, size
        Position of the leaf and size of the tree.
    proof
        Audit path, leaf upwards.
    root
        Expected root of the tree of ``size`` leaves.
    """
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """Check a consistency proof between two tree heads (RFC 9162 §2.1.4.2)."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root starts the path
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
