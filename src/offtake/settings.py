"""Typed settings of the platform server.

Every value is resolved in this order: an explicit argument to :meth:`Settings.resolve`,
then an ``OFFTAKE_*`` environment variable, then the default. Values are validated when
the settings are built; nothing is read or created when this module is imported.

| setting | environment variable | default |
|---|---|---|
| ``data_dir`` | ``OFFTAKE_DATA_DIR`` | ``./offtake-data`` |
| ``database_url`` | ``OFFTAKE_DATABASE_URL`` | ``sqlite:///<data_dir>/offtake.db`` |
| ``signing_key_path`` | ``OFFTAKE_SIGNING_KEY`` | ``<data_dir>/ledger-signing-key.pem`` |
| ``checkpoint_log_path`` | ``OFFTAKE_CHECKPOINT_LOG`` | ``<data_dir>/ledger-checkpoints.log`` |
| ``token_secret_path`` | ``OFFTAKE_TOKEN_SECRET_FILE`` | ``<data_dir>/token-secret`` |
| ``token_secret`` | ``OFFTAKE_TOKEN_SECRET`` | read from (or created in) ``token_secret_path`` |
| ``token_lifetime_s`` | ``OFFTAKE_TOKEN_LIFETIME_S`` | ``3600`` |
| ``auth_recheck_s`` | ``OFFTAKE_AUTH_RECHECK_S`` | ``5`` |
| ``checkpoint_interval_s`` | ``OFFTAKE_CHECKPOINT_INTERVAL_S`` | ``60`` |
| ``checkpoint_every_entries`` | ``OFFTAKE_CHECKPOINT_EVERY_ENTRIES`` | ``10000`` |
| ``host`` | ``OFFTAKE_HOST`` | ``127.0.0.1`` |
| ``port`` | ``OFFTAKE_PORT`` | ``8600`` |
| ``grid_feed`` | ``OFFTAKE_GRID_FEED`` | none: live dispatch off (e.g. ``scenario:pakistan-2025``) |
| ``dispatch_interval_s`` | ``OFFTAKE_DISPATCH_INTERVAL_S`` | ``300`` |
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offtake.errors import InputError

__all__ = ["Settings"]

_MIN_SECRET_BYTES = 32

#: Default of ``auth_recheck_s`` [s].
DEFAULT_AUTH_RECHECK_S = 5.0


@dataclass(frozen=True)
class Settings:
    """Settings of the platform server, validated.

    Build them with :meth:`Settings.resolve` rather than the constructor, so that the
    environment and the defaults are applied.

    Parameters
    ----------
    data_dir
        Folder for the default SQLite file, signing key and token secret.
    database_url
        SQLAlchemy URL, e.g. ``sqlite:///offtake.db`` or
        ``postgresql+psycopg://user@127.0.0.1:5432/offtake``.
    signing_key_path
        PEM file of the Ed25519 key that signs ledger checkpoints (created on first use).
    checkpoint_log_path
        Append-only file of every checkpoint signed, outside the database (created 0600):
        the server refuses to sign a ledger that is not consistent with its last line.
    token_secret_path
        File holding the secret that signs bearer tokens (created on first use).
    token_secret
        The token secret itself, if given directly (at least 32 bytes).
    token_lifetime_s
        Lifetime of an issued bearer token [s].
    auth_recheck_s
        Longest time the server trusts what it read about a token's client: a disabled
        client is refused at most this long after it was disabled [s]; 0 reads the client
        from the database on every request.
    checkpoint_interval_s
        Longest time between two signed checkpoints while the ledger grows [s].
    checkpoint_every_entries
        Sign a checkpoint at the latest after this many new entries [-].
    host, port
        Address ``offtake serve`` binds to.
    grid_feed
        The grid feed live dispatch reads (``scenario:NAME_OR_PATH``); when set, the server
        dispatches every interval. None: no live dispatch.
    dispatch_interval_s
        Length of a live dispatch interval [s], a whole divisor of a day.
    """

    data_dir: Path
    database_url: str
    signing_key_path: Path
    token_secret_path: Path
    token_secret: bytes | None
    token_lifetime_s: int
    auth_recheck_s: float
    checkpoint_interval_s: float
    checkpoint_every_entries: int
    host: str
    port: int
    grid_feed: str | None = None
    dispatch_interval_s: int = 300
    checkpoint_log_path: Path = Path("offtake-data") / "ledger-checkpoints.log"

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from explicit values, then the environment, then defaults.

        Parameters
        ----------
        env
            Environment to read (``os.environ`` if ``None``).
        **overrides
            Explicit values by field name; ``None`` means "not given".

        Returns
        -------
        Settings
            Validated settings.

        Raises
        ------
        InputError
            If a value is malformed; the error names the setting.
        """
        environ = os.environ if env is None else env
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InputError(f"unknown setting(s) {', '.join(unknown)}", field=unknown[0])

        def pick(name: str, var: str) -> Any:
            value = overrides.get(name)
            if value is not None:
                return value
            return environ.get(var) or None

        data_dir = Path(pick("data_dir", "OFFTAKE_DATA_DIR") or "offtake-data")
        database_url = str(pick("database_url", "OFFTAKE_DATABASE_URL") or f"sqlite:///{data_dir / 'offtake.db'}")
        if "://" not in database_url:
            raise InputError(
                f"'{database_url}' is not a database URL (expected e.g. sqlite:///offtake.db)",
                field="OFFTAKE_DATABASE_URL",
            )
        signing = Path(pick("signing_key_path", "OFFTAKE_SIGNING_KEY") or data_dir / "ledger-signing-key.pem")
        secret_path = Path(pick("token_secret_path", "OFFTAKE_TOKEN_SECRET_FILE") or data_dir / "token-secret")
        raw_secret = pick("token_secret", "OFFTAKE_TOKEN_SECRET")
        token_secret: bytes | None = None
        if raw_secret is not None:
            token_secret = raw_secret if isinstance(raw_secret, bytes) else str(raw_secret).encode()
            if len(token_secret) < _MIN_SECRET_BYTES:
                raise InputError(
                    f"the token secret must be at least {_MIN_SECRET_BYTES} bytes long",
                    field="OFFTAKE_TOKEN_SECRET",
                )
        settings = cls(
            data_dir=data_dir,
            database_url=database_url,
            signing_key_path=signing,
            token_secret_path=secret_path,
            token_secret=token_secret,
            token_lifetime_s=_positive_int(
                pick("token_lifetime_s", "OFFTAKE_TOKEN_LIFETIME_S") or 3600,
                "OFFTAKE_TOKEN_LIFETIME_S",
            ),
            auth_recheck_s=_non_negative_float(
                _given(pick("auth_recheck_s", "OFFTAKE_AUTH_RECHECK_S"), DEFAULT_AUTH_RECHECK_S),
                "OFFTAKE_AUTH_RECHECK_S",
            ),
            checkpoint_interval_s=_positive_float(
                pick("checkpoint_interval_s", "OFFTAKE_CHECKPOINT_INTERVAL_S") or 60.0,
                "OFFTAKE_CHECKPOINT_INTERVAL_S",
            ),
            checkpoint_every_entries=_positive_int(
                pick("checkpoint_every_entries", "OFFTAKE_CHECKPOINT_EVERY_ENTRIES") or 10_000,
                "OFFTAKE_CHECKPOINT_EVERY_ENTRIES",
            ),
            host=str(pick("host", "OFFTAKE_HOST") or "127.0.0.1"),
            port=_positive_int(pick("port", "OFFTAKE_PORT") or 8600, "OFFTAKE_PORT"),
            grid_feed=str(pick("grid_feed", "OFFTAKE_GRID_FEED") or "").strip() or None,
            dispatch_interval_s=_positive_int(
                pick("dispatch_interval_s", "OFFTAKE_DISPATCH_INTERVAL_S") or 300, "OFFTAKE_DISPATCH_INTERVAL_S"
            ),
            checkpoint_log_path=Path(
                pick("checkpoint_log_path", "OFFTAKE_CHECKPOINT_LOG") or data_dir / "ledger-checkpoints.log"
            ),
        )
        if 86_400 % settings.dispatch_interval_s:
            raise InputError(
                f"{settings.dispatch_interval_s} s does not divide a day; dispatch intervals align to the clock",
                field="OFFTAKE_DISPATCH_INTERVAL_S",
            )
        if settings.port > 65535:
            raise InputError(f"port {settings.port} is out of range 1..65535", field="OFFTAKE_PORT")
        return settings

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is a SQLite file."""
        return self.database_url.startswith("sqlite")

    def load_token_secret(self) -> bytes:
        """Return the token secret, creating the secret file (mode 0600) on first use.

        Returns
        -------
        bytes
            At least 32 bytes of secret.
        """
        if self.token_secret is not None:
            return self.token_secret
        path = self.token_secret_path
        if path.exists():
            secret = path.read_bytes().strip()
            if len(secret) < _MIN_SECRET_BYTES:
                raise InputError(
                    f"the token secret in {path} is shorter than {_MIN_SECRET_BYTES} bytes",
                    file=path,
                )
            return secret
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secret + b"\n")
        return secret


def _positive_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"'{value}' is not an integer", field=name) from None
    if number <= 0:
        raise InputError(f"must be positive, got {number}", field=name)
    return number


def _positive_float(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"'{value}' is not a number", field=name) from None
    if not number > 0:
        raise InputError(f"must be positive, got {number}", field=name)
    return number


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


def _non_negative_float(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"'{value}' is not a number", field=name) from None
    if not number >= 0 or number == float("inf"):
        raise InputError(f"must be 0 or more, got {value}", field=name)
    return number
