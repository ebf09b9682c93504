"""Console users: accounts, passwords, lockout and sessions, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from platform_fixtures import World
from sqlalchemy.orm import Session, sessionmaker

from offtake.errors import ConflictError, InputError, NotFoundError
from offtake.identity.principal import ROLE_SCOPES
from offtake.identity.users import (
    SignInError,
    authenticate_user,
    create_user,
    end_session,
    open_session,
    session_user,
    user_principal,
)
from offtake.persistence.db import session_scope
from offtake.persistence.schema import ConsoleSession, ConsoleUser

NOW = datetime(2025, 7, 1, 12, tzinfo=UTC)
PASSWORD = "a long enough password"


def test_a_user_signs_in_and_acts_with_its_roles_scopes(factory: sessionmaker[Session], world: World) -> None:
    with session_scope(factory) as s:
        create_user(s, "amna", "operator", PASSWORD, operator_id="op1", now=NOW)
    with session_scope(factory) as s:
        user = authenticate_user(s, "amna", PASSWORD, now=NOW)
        who = user_principal(user)
    assert (who.client_id, who.role, who.operator_id) == ("user:amna", "operator", "op1")
    assert who.scopes == ROLE_SCOPES["operator"]
    with session_scope(factory) as s:
        stored = s.get(ConsoleUser, "amna")
        assert stored is not None and PASSWORD not in stored.password_hash


@pytest.mark.parametrize(
    ("name", "role", "password", "operator", "error", "field"),
    [
        ("bad name!", "regulator", PASSWORD, None, InputError, "name"),
        ("x", "ven", PASSWORD, None, InputError, "role"),
        ("x", "regulator", "short", None, InputError, "password"),
        ("x", "operator", PASSWORD, None, InputError, "operator_id"),
        ("x", "regulator", PASSWORD, "op1", InputError, "operator_id"),
        ("x", "operator", PASSWORD, "nobody", NotFoundError, None),
    ],
)
def test_bad_accounts_are_refused_naming_the_field(
    factory: sessionmaker[Session],
    world: World,
    name: str,
    role: str,
    password: str,
    operator: str | None,
    error: type[Exception],
    field: str | None,
) -> None:
    with session_scope(factory) as s, pytest.raises(error) as info:
        create_user(s, name, role, password, operator_id=operator)
    if field is not None:
        assert getattr(info.value, "field", None) == field


def test_a_name_is_taken_once(factory: sessionmaker[Session], world: World) -> None:
    with session_scope(factory) as s:
        create_user(s, "reg", "regulator", PASSWORD)
    with session_scope(factory) as s, pytest.raises(ConflictError):
        create_user(s, "reg", "regulator", PASSWORD)


def test_repeated_failures_lock_the_account_for_a_while(factory: sessionmaker[Session], world: World) -> None:
    with session_scope(factory) as s:
        create_user(s, "ctl", "grid_operator", PASSWORD)
    for i in range(3):
        with factory() as s:
            with pytest.raises(SignInError):
                authenticate_user(s, "ctl", "wrong", max_failures=3, lockout_s=60, now=NOW + timedelta(seconds=i))
            s.commit()
    with factory() as s, pytest.raises(SignInError):  # the right password, but locked
        authenticate_user(s, "ctl", PASSWORD, max_failures=3, lockout_s=60, now=NOW + timedelta(seconds=30))
    with session_scope(factory) as s:  # the lock ends
        assert authenticate_user(s, "ctl", PASSWORD, max_failures=3, lockout_s=60, now=NOW + timedelta(seconds=90))
    with factory() as s, pytest.raises(SignInError, match="wrong name or password"):
        authenticate_user(s, "nobody", PASSWORD)


def test_sessions_end_on_sign_out_and_expiry_and_store_no_token(
    factory: sessionmaker[Session], world: World
) -> None:
    with session_scope(factory) as s:
        user = create_user(s, "ctl", "grid_operator", PASSWORD)
        signed = open_session(s, user, lifetime_s=3600, now=NOW)
    with factory() as s:
        found = session_user(s, signed.token, now=NOW + timedelta(minutes=59))
        assert found is not None and found[0].name == "ctl" and found[1] == signed.csrf_token
        assert session_user(s, signed.token, now=NOW + timedelta(minutes=61)) is None
        assert session_user(s, signed.token + "x", now=NOW) is None
        assert s.get(ConsoleSession, signed.token) is None  # only the token's hash is stored
    with session_scope(factory) as s:
        end_session(s, signed.token, now=NOW + timedelta(minutes=1))
    with factory() as s:
        assert session_user(s, signed.token, now=NOW + timedelta(minutes=2)) is None


def test_cli_adds_a_user_with_the_password_from_stdin(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'o.db'}"
    common = ["--database-url", db, "--data-dir", str(tmp_path)]
    run = [sys.executable, "-m", "offtake", "user", "add", "ctl", "--role", "grid_operator", "--password-stdin"]
    done = subprocess.run([*run, *common], input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "offtake", "user", "list", *common], capture_output=True, text=True, timeout=120
    )
    assert listed.stdout.split() == ["ctl", "grid_operator", "-", "active"]
    again = subprocess.run([*run, *common], input="short\n", capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "password" in again.stderr
