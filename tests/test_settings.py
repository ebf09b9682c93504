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
    default = Settings.resolve(env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert default.database_url == f"sqlite:///{tmp_path / 'xdg' / 'offtake' / 'offtake.db'}"
    assert default.host == "127.0.0.1"
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


def test_default_data_folder_is_per_user_never_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = Settings.resolve(env={})
    assert settings.data_dir == tmp_path / "home" / ".local" / "share" / "offtake"
    assert not settings.data_dir.is_relative_to(tmp_path / "offtake-data")
    relative_xdg = Settings.resolve(env={"XDG_DATA_HOME": "relative"})  # not absolute: ignored (XDG spec)
    assert relative_xdg.data_dir == settings.data_dir
    explicit = Settings.resolve(env={"OFFTAKE_DATA_DIR": str(tmp_path / "d")})
    assert explicit.data_dir == tmp_path / "d"


def test_data_folder_database_and_secrets_are_created_private(tmp_path: Path) -> None:
    from offtake.ledger.signing import load_or_create_signer

    settings = Settings.resolve(env={}, data_dir=str(tmp_path / "data"))
    engine = make_engine(settings.database_url)
    with engine.begin() as c:
        c.execute(text("create table t (x integer)"))
        c.execute(text("insert into t values (1)"))
        folder_mode = settings.data_dir.stat().st_mode & 0o777
        modes = {p.name: p.stat().st_mode & 0o777 for p in settings.data_dir.iterdir() if p.name.startswith("offtake")}
    engine.dispose()
    settings.load_token_secret()
    load_or_create_signer(settings.signing_key_path)
    assert folder_mode == 0o700
    assert "offtake.db-wal" in modes and set(modes.values()) == {0o600}, modes
    for secret in (settings.token_secret_path, settings.signing_key_path):
        assert secret.stat().st_mode & 0o077 == 0
    assert (settings.data_dir / ".gitignore").read_text().splitlines()[-1] == "*"


def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.write_bytes(b"")
    db.chmod(0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert db.stat().st_mode & 0o777 == 0o600


def test_a_data_folder_inside_a_git_work_tree_is_ignored_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from offtake.settings import ensure_private_dir, git_work_tree_of

    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    new = ensure_private_dir(checkout / "offtake-data")
    assert git_work_tree_of(new) == checkout and (new / ".gitignore").exists()
    assert not caplog.records  # created with its .gitignore: nothing to report
    existing = checkout / "data"
    existing.mkdir()
    with caplog.at_level("WARNING"):
        ensure_private_dir(existing)
    assert "inside the git work tree" in caplog.text and "OFFTAKE_DATA_DIR" in caplog.text
    assert git_work_tree_of(tmp_path / "elsewhere") is None


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"OFFTAKE_MAX_BODY_BYTES": "0"}, "OFFTAKE_MAX_BODY_BYTES"),
        ({"OFFTAKE_MAX_READINGS_PER_BATCH": "many"}, "OFFTAKE_MAX_READINGS_PER_BATCH"),
        ({"OFFTAKE_AUTH_FREE_FAILURES": "-3"}, "OFFTAKE_AUTH_FREE_FAILURES"),
        ({"OFFTAKE_WEBHOOK_ALLOW_PRIVATE": "maybe"}, "OFFTAKE_WEBHOOK_ALLOW_PRIVATE"),
    ],
)
def test_bad_limits_name_the_variable(env: dict[str, str], field: str) -> None:
    with pytest.raises(InputError) as info:
        Settings.resolve(env=env)
    assert info.value.field == field


def test_limits_have_defaults_and_read_the_environment() -> None:
    default = Settings.resolve(env={})
    assert default.max_body_bytes == 2 * 1024 * 1024 and not default.webhook_allow_private
    tuned = Settings.resolve(env={"OFFTAKE_MAX_BODY_BYTES": "1000", "OFFTAKE_WEBHOOK_ALLOW_PRIVATE": "true"})
    assert tuned.max_body_bytes == 1000 and tuned.webhook_allow_private
