"""The ``offtake`` command: a thin layer over the library.

Each sub-command lives in its own module and is registered here. Errors that
offtake raises on purpose are printed as one line and exit with status 2; any
other failure is printed as one line with exit status 1 (``OFFTAKE_DEBUG=1``
shows the stack trace). No stack trace reaches the user otherwise.
"""

from __future__ import annotations

import os
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
    from offtake.cli import (
        agent_cmd,
        assess_cmd,
        demo_cmd,
        dispatch_cmd,
        ledger_cmd,
        plan_cmd,
        registry_cmd,
        risk_cmd,
        scenario_cmd,
        server_cmd,
        simulate_cmd,
    )

    scenario_cmd.register(app)
    assess_cmd.register(app)
    plan_cmd.register(app)
    risk_cmd.register(app)
    simulate_cmd.register(app)
    server_cmd.register(app)
    ledger_cmd.register(app)
    registry_cmd.register(app)
    dispatch_cmd.register(app)
    agent_cmd.register(app)
    demo_cmd.register(app)


def main() -> None:
    """Run the command line, turning offtake errors into one-line messages."""
    _register()
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except OfftakeError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("OFFTAKE_DEBUG"):
            raise
        typer.echo(
            f"error: unexpected failure ({type(exc).__name__}: {exc}); set OFFTAKE_DEBUG=1 for the details",
            err=True,
        )
        sys.exit(1)
