"""The ``offtake`` command: a thin layer over the library.

Each sub-command lives in its own module and is registered here. Exit statuses:

- 0: done (``offtake`` alone or a command group alone prints its help and exits 2, like any
  other incomplete command line);
- 2: a usage error (a missing or unknown option, a typo'd command, a value of the wrong type),
  printed by the command-line parser with the option as the user typed it and the close
  matches it knows; or an error offtake raises on purpose (bad data, a refused request),
  printed as one line ``error: ...``;
- 1: any other failure, printed as one line (``OFFTAKE_DEBUG=1`` shows the stack trace).

No stack trace reaches the user otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from offtake.errors import OfftakeError

__all__ = ["PROG", "app", "main"]

#: The command's name in usage lines and help.
PROG = "offtake"

app = typer.Typer(
    name=PROG,
    help="Assess, plan, dispatch, meter, audit and bill a grid's surplus power.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain text: usage errors on one line that scripts and tests can read, at any width.
    rich_markup_mode=None,
)

_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    from offtake.cli import (
        agent_cmd,
        assess_cmd,
        certificates_cmd,
        demo_cmd,
        dispatch_cmd,
        ledger_cmd,
        outlook_cmd,
        plan_cmd,
        registry_cmd,
        risk_cmd,
        scenario_cmd,
        server_cmd,
        simulate_cmd,
        user_cmd,
    )

    scenario_cmd.register(app)
    assess_cmd.register(app)
    outlook_cmd.register(app)
    plan_cmd.register(app)
    risk_cmd.register(app)
    simulate_cmd.register(app)
    server_cmd.register(app)
    ledger_cmd.register(app)
    certificates_cmd.register(app)
    registry_cmd.register(app)
    dispatch_cmd.register(app)
    user_cmd.register(app)
    agent_cmd.register(app)
    demo_cmd.register(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; usage errors exit 2, offtake errors print one line and exit 2.

    Parameters
    ----------
    argv
        The arguments after the command's name (default: ``sys.argv[1:]``).
    """
    _register()
    try:
        # Standalone mode: the parser itself reports usage errors (exit 2) and typer.Exit.
        app(args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=True)
    except OfftakeError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("OFFTAKE_DEBUG"):
            raise
        typer.echo(
            f"error: unexpected failure ({type(exc).__name__}: {exc}); set OFFTAKE_DEBUG=1 for the details",
            err=True,
        )
        sys.exit(1)
