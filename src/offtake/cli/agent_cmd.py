"""``offtake agent --config site.toml``: the site agent beside a fleet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``agent`` to ``app``."""

    @app.command("agent")
    def agent(
        config: Annotated[Path, typer.Option("--config", help="The site's site.toml.")],
        ticks: Annotated[int | None, typer.Option(help="Stop after this many ticks (default: until stopped).")] = None,
    ) -> None:
        """Follow the site's caps from the VTN: plan the fleet, command the machines, report the meter."""
        import asyncio
        import signal

        from offtake.agent.config import load_config
        from offtake.agent.runner import build_agent

        settings = load_config(config)

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            site_agent = build_agent(settings)
            try:
                status = await site_agent.run(stop, max_ticks=ticks)
            finally:
                await site_agent.close()
            cap = status.limit.cap_w if status.limit is not None else None
            typer.echo(f"agent {settings.site_id} stopped: cap {cap} W, draw {status.power_w} W, "
                       f"{status.reports_sent} reports sent, {status.reports_pending} pending")  # fmt: skip

        asyncio.run(main())
