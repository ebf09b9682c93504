"""Templates of the console and the one way pages are rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from offtake.api.console.session import Viewer
from offtake.api.console.views import local_time

__all__ = ["page"]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["mw"] = lambda v: f"{v:,.1f}"
templates.env.filters["money"] = lambda v: "—" if v is None else f"{v:,.2f}"
templates.env.filters["pkt"] = local_time


def page(
    request: Request, template: str, viewer: Viewer | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``template`` for ``viewer`` (None on the sign-in page) with ``context``."""
    return templates.TemplateResponse(request, template, {"viewer": viewer, **context}, status_code=status_code)
