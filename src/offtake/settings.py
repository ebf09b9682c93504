"""Typed settings of the platform server.

Every value is resolved in this order: an explicit argument to :meth:`Settings.resolve`,
then an ``OFFTAKE_*`` environment variable, then the default. Values are validated when
the settings are built; nothing is read or created when this module is imported.

| setting | environment variable | default |
|---|---|---|
| ``data_dir`` | ``OFFTAKE_DATA_DIR`` | ``$XDG_DATA_HOME/offtake`` (``~/.local/share/offtake``) |
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
| ``max_body_bytes`` | ``OFFTAKE_MAX_BODY_BYTES`` | ``2097152`` (2 MiB) |
| ``max_readings_per_batch`` | ``OFFTAKE_MAX_READINGS_PER_BATCH`` | ``5000`` |
| ``auth_free_failures`` | ``OFFTAKE_AUTH_FREE_FAILURES`` | ``5`` |
| ``auth_failure_window_s`` | ``OFFTAKE_AUTH_FAILURE_WINDOW_S`` | ``300`` |
| ``auth_max_backoff_s`` | ``OFFTAKE_AUTH_MAX_BACKOFF_S`` | ``900`` |
| ``webhook_allow_private`` | ``OFFTAKE_WEBHOOK_ALLOW_PRIVATE`` | ``false`` |

The data folder holds the database, the checkpoint signing key and the token secret. It is
created private (0700) with a ``.gitignore`` that ignores everything in it, and by default
lives in the user's data folder, never in the working directory: a source checkout must
not be one ``git add -A`` away from committing the key. A data folder inside a git work
tree is reported with a warning.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offtake.errors import InputError

__all__ = ["Settings", "default_data_dir", "ensure_private_dir", "git_work_tree_of"]

_log = logging.getLogger(__name__)

_MIN_SECRET_BYTES = 32

#: Default of ``auth_recheck_s`` [s].
DEFAULT_AUTH_RECHECK_S = 5.0

#: Defaults of the request limits: body size [bytes], readings per batch [-], failed client
#: authentications allowed before backing off [-], the window they are counted in [s] and
#: the longest back-off [s].
DEFAULT_LIMITS: dict[str, int] = {
    "max_body_bytes": 2 * 1024 * 1024,
    "max_readings_per_batch": 5_000,
    "auth_free_failures": 5,
    "auth_failure_window_s": 300,
    "auth_max_backoff_s": 900,
}

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def default_data_dir(env: Mapping[str, str]) -> Path:
    """Return the per-user data folder: ``$XDG_DATA_HOME/offtake`` or ``~/.local/share/offtake``."""
    xdg = env.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "offtake"


def git_work_tree_of(path: Path) -> Path | None:
    """Return the root of the git work tree that contains ``path``, if any."""
    here = path.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def ensure_private_dir(path: Path) -> Path:
    """Create the data folder ``path`` private (0700) with a ``.gitignore`` of everything.

    A folder that already exists is left as it is (it may be shared, such as ``/tmp``), but a
    warning is logged when it is inside a git work tree without a ``.gitignore``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, stat.S_IRWXU)  # mkdir's mode is masked by the umask
        (path / ".gitignore").write_text("# offtake data: database and secrets, never committed\n*\n")
    tree = git_work_tree_of(path)
    if tree is not None and not (path / ".gitignore").exists():
        _log.warning(
            "the data folder %s is inside the git work tree %s; its database and keys could be "
            "committed. Set OFFTAKE_DATA_DIR to a folder outside any checkout.",
            path,
            tree,
        )
    return path


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
    max_body_bytes
        Largest request body any route reads [bytes]; a larger one is answered 413 unread.
    max_readings_per_batch
        Most readings in one request; a batch holds the ledger's write lock while it is
        stored, so this bounds how long other writers wait [-].
    auth_free_failures
        Failed client authentications allowed per client id and per address within
        ``auth_failure_window_s`` before the token endpoint answers 429 [-].
    auth_failure_window_s
        How long a failed authentication is remembered [s].
    auth_max_backoff_s
        Longest back-off; it doubles with each further failure up to this [s].
    webhook_allow_private
        Let subscriptions call back to loopback, private and link-local addresses (tests and
        a local demo); off in production, where a VEN must not make the server call into
        its own network.
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
    max_body_bytes: int = DEFAULT_LIMITS["max_body_bytes"]
    max_readings_per_batch: int = DEFAULT_LIMITS["max_readings_per_batch"]
    auth_free_failures: int = DEFAULT_LIMITS["auth_free_failures"]
    auth_failure_window_s: int = DEFAULT_LIMITS["auth_failure_window_s"]
    auth_max_backoff_s: int = DEFAULT_LIMITS["auth_max_backoff_s"]
    webhook_allow_private: bool = False
    #: Witness log of signed checkpoints; :attr:`checkpoint_log` when not given.
    checkpoint_log_path: Path | None = None

    @property
    def checkpoint_log(self) -> Path:
        """Witness log of signed checkpoints: ``checkpoint_log_path``, else beside the data."""
        return self.checkpoint_log_path or Path(self.data_dir) / "ledger-checkpoints.log"

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

        data_dir = Path(pick("data_dir", "OFFTAKE_DATA_DIR") or default_data_dir(environ))
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
            **{
                name: _positive_int(pick(name, f"OFFTAKE_{name.upper()}") or default, f"OFFTAKE_{name.upper()}")
                for name, default in DEFAULT_LIMITS.items()
            },
            webhook_allow_private=_flag(
                pick("webhook_allow_private", "OFFTAKE_WEBHOOK_ALLOW_PRIVATE"), "OFFTAKE_WEBHOOK_ALLOW_PRIVATE"
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
        ensure_private_dir(path.parent)
        secret = secrets.token_hex(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secret + b"\n")
        return secret


def _flag(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(f"'{value}' is not true or false", field=name)


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
