"""Ed25519 keys and signed checkpoints of the ledger.

A checkpoint states the ledger's size and Merkle root. The signed message is the canonical
JSON (see :mod:`offtake.ledger.encoding`) of
``{"key_id", "log": "offtake-ledger", "root": <hex>, "signed_at", "size", "version": 1}``.
``key_id`` is the first 16 hex digits of SHA-256 of the raw 32-byte public key.

An export's trailer signs another message (:func:`export_message`), which adds
``"type": "export"`` and the SHA-256 of the export's header and checkpoint lines, so a
checkpoint line cannot pass for a trailer and no unsigned line of an export can be edited.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from offtake.errors import InputError
from offtake.ledger.encoding import canonical_json, format_time
from offtake.settings import ensure_private_dir

if TYPE_CHECKING:
    from offtake.ledger.witness import CheckpointLog

__all__ = [
    "CheckpointStatement",
    "Signer",
    "checkpoint_message",
    "export_message",
    "key_id_of",
    "load_or_create_signer",
    "load_public_key",
]

LOG_NAME = "offtake-ledger"


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """Short identifier of a public key (16 hex digits)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class CheckpointStatement:
    """A signed tree head: size, root, time, key and signature."""

    size: int
    root: bytes
    signed_at: datetime
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        """Return the bytes that were signed."""
        return checkpoint_message(self.size, self.root, self.signed_at, self.key_id)

    def as_dict(self) -> dict[str, object]:
        """JSON form (hex for bytes)."""
        return {
            "size": self.size,
            "root": self.root.hex(),
            "signed_at": format_time(self.signed_at),
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        """Whether the signature is valid for ``public_key``."""
        try:
            public_key.verify(self.signature, self.message())
        except InvalidSignature:
            return False
        return True


def checkpoint_message(size: int, root: bytes, signed_at: datetime, key_id: str) -> bytes:
    """Canonical bytes signed for a checkpoint."""
    return canonical_json(
        {
            "key_id": key_id,
            "log": LOG_NAME,
            "root": root.hex(),
            "signed_at": format_time(signed_at),
            "size": size,
            "version": 1,
        }
    )


def export_message(size: int, root: bytes, signed_at: datetime, key_id: str, lines_sha256: str) -> bytes:
    """Canonical bytes signed for an export's trailer (covers the header and checkpoint lines)."""
    return canonical_json(
        {
            "key_id": key_id,
            "lines_sha256": lines_sha256,
            "log": LOG_NAME,
            "root": root.hex(),
            "signed_at": format_time(signed_at),
            "size": size,
            "type": "export",
            "version": 1,
        }
    )


class Signer:
    """Signs checkpoints with an Ed25519 private key.

    Parameters
    ----------
    private_key
        The key.
    witness
        The checkpoint log every checkpoint is appended to, and checked against before
        signing (see :mod:`offtake.ledger.witness`); ``None`` for none.
    """

    def __init__(self, private_key: Ed25519PrivateKey, witness: CheckpointLog | None = None) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)
        self.witness = witness

    def sign_export(self, size: int, root: bytes, signed_at: datetime, lines_sha256: str) -> bytes:
        """Sign an export trailer; return the signature."""
        return self._key.sign(export_message(size, root, signed_at, self.key_id, lines_sha256))

    def sign(self, size: int, root: bytes, signed_at: datetime) -> CheckpointStatement:
        """Sign a tree head."""
        signature = self._key.sign(checkpoint_message(size, root, signed_at, self.key_id))
        return CheckpointStatement(size, root, signed_at, self.key_id, signature)

    def public_pem(self) -> str:
        """Return the public key as PEM text (give it to verifiers)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    @classmethod
    def generate(cls) -> Signer:
        """Return a signer with a fresh key (tests and first start)."""
        return cls(Ed25519PrivateKey.generate())


def load_or_create_signer(path: Path) -> Signer:
    """Load the PEM private key at ``path``, creating it (mode 0600) if it does not exist."""
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise InputError(f"not a PEM private key: {exc}", file=path) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise InputError("the ledger signing key must be an Ed25519 key", file=path)
        return Signer(key)
    ensure_private_dir(path.parent)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return Signer(key)


def load_public_key(path_or_text: str | Path) -> Ed25519PublicKey:
    """Load an Ed25519 public key from a PEM file, PEM text, or 64 hex digits (raw key)."""
    text = str(path_or_text).strip()
    raw: bytes
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    path = Path(text)
    if "BEGIN" not in text:
        if not path.exists():
            raise InputError(f"public key file {path} does not exist", file=path)
        raw = path.read_bytes()
    else:
        raw = text.encode()
    try:
        key = serialization.load_pem_public_key(raw)
    except ValueError as exc:
        raise InputError(f"not a PEM public key: {exc}", file=str(path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("the ledger public key must be an Ed25519 key", file=str(path))
    return key
