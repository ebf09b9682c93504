"""Settings precedence and validation; the aware-UTC column type."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from offtake.errors import InputError
from offtake.persistence.db import UTCDateTime, make_engine
from offtake.settings import Settings


def test_explicit_beats_environment_beats_default(tmp_path: Path) -> None:
    default = Settings.resolve(env={})
    assert default.database_url == "sqlite:///offtake-data/offtake.db" and default.host == "127.0.0.1"
    env = {
        "OFFTAKE_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1/x",
        "OFFTAKE_PORT": "9000",
        "OFFTAKE_CHECKPOINT_INTERVAL_S": "5",
    }
    from_env = Settings.resolve(env=env)
    assert (from_env.database_url, from_env.port, from_env.checkpoint_interval_s) == (
        env["OFFTAKE_DATABASE_URL"],
        9000,
        5.0,
    )
    explicit = Settings.resolve(env=env, database_url="sqlite:///x.db", port=9100)
    assert (explicit.database_url, explicit.port) == ("sqlite:///x.db", 9100)
    assert (
        Settings.resolve(env={"OFFTAKE_DATA_DIR": str(tmp_path)}).signing_key_path
        == tmp_path / "ledger-signing-key.pem"
    )


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"OFFTAKE_PORT": "http"}, "OFFTAKE_PORT"),
        ({"OFFTAKE_PORT": "70000"}, "OFFTAKE_PORT"),
        ({"OFFTAKE_TOKEN_LIFETIME_S": "-1"}, "OFFTAKE_TOKEN_LIFETIME_S"),
        ({"OFFTAKE_TOKEN_SECRET": "short"}, "OFFTAKE_TOKEN_SECRET"),
        ({"OFFTAKE_DATABASE_URL": "offtake.db"}, "OFFTAKE_DATABASE_URL"),
        ({"OFFTAKE_CHECKPOINT_EVERY_ENTRIES": "0"}, "OFFTAKE_CHECKPOINT_EVERY_ENTRIES"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], field: str) -> None:
    with pytest.raises(InputError) as info:
        Settings.resolve(env=env)
    assert info.value.field == field


def test_token_secret_file_is_created_once_and_private(tmp_path: Path) -> None:
    settings = Settings.resolve(env={}, data_dir=str(tmp_path))
    first = settings.load_token_secret()
    assert len(first) >= 32 and settings.token_secret_path.stat().st_mode & 0o077 == 0
    assert settings.load_token_secret() == first


def test_utc_column_refuses_naive_and_returns_aware(tmp_path: Path) -> None:
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    column = UTCDateTime()
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2025, 1, 1), engine.dialect)
    stored = column.process_bind_param(datetime(2025, 1, 1, 5, tzinfo=UTC), engine.dialect)
    back = column.process_result_value(stored, engine.dialect)
    assert back == datetime(2025, 1, 1, 5, tzinfo=UTC) and back is not None and back.tzinfo is not None
    with engine.connect() as c:
        assert c.execute(text("pragma journal_mode")).scalar() == "wal"
        assert c.execute(text("pragma foreign_keys")).scalar() == 1
        assert c.execute(text("pragma synchronous")).scalar() == 2  # FULL
    engine.dispose()
