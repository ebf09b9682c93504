"""The ``offtake`` command: a thin layer over the library.

Each sub-command lives in its own module and is registered here. Errors that
offtake raises on purpose are printed as one line and exit with status 2; no
stack trace reaches the user.
"""

from __future__ import annotations

import sys

import typer

from offtake.errors import OfftakeError

__all__ = ["app", "main"]

app = typer.Typer(
    name="offtake",
    help="Assess, plan, dispatch, meter, audit and bill a grid's surplus power.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from offtake.cli import plan_cmd, scenario_cmd

    scenario_cmd.register(app)
    plan_cmd.register(app)


def main() -> None:
    """Run the command line, turning offtake errors into one-line messages."""
    _register()
    try:
        app(standalone_mode=False)
    except OfftakeError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
