"""``offtake user``: people who sign in to the web console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from offtake.cli.server_cmd import DatabaseOpt, DataDirOpt


def register(app: typer.Typer) -> None:
    """Add the ``user`` group to ``app``."""
    user = typer.Typer(help="Console users (people who sign in to the web console).", no_args_is_help=True)

    @user.command("add")
    def add(
        name: Annotated[str, typer.Argument(help="Sign-in name.")],
        role: Annotated[str, typer.Option("--role", help="grid_operator, regulator or operator.")],
        operator: Annotated[str | None, typer.Option("--operator", help="Operator id (operator role).")] = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from standard input, not a prompt.")
        ] = False,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Add a console user; the password is asked for twice (or read from standard input)."""
        from offtake.identity.users import create_user
        from offtake.persistence.db import make_engine, make_session_factory, session_scope
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
            with session_scope(make_session_factory(engine)) as session:
                create_user(session, name, role, password, operator_id=operator)
        finally:
            engine.dispose()
        typer.echo(f"user {name} ({role}) added; sign in at the console of 'offtake serve'")

    @user.command("list")
    def list_users(database_url: DatabaseOpt = None, data_dir: DataDirOpt = None) -> None:
        """List console users: name, role, operator, state (never passwords)."""
        from offtake.identity import users
        from offtake.persistence.db import make_engine, make_session_factory
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
            with make_session_factory(engine)() as session:
                for u in users.list_users(session):
                    state = "disabled" if u.disabled_at else "active"
                    typer.echo(f"{u.name}\t{u.role}\t{u.operator_id or '-'}\t{state}")
        finally:
            engine.dispose()

    app.add_typer(user, name="user")
