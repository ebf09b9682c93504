"""Self-contained HTML reports: text, tables and matplotlib figures embedded as PNG."""

from __future__ import annotations

import base64
import html
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["HtmlReport"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } .subtitle { color: #555; margin-top: 0; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
img { max-width: 100%; } .findings li { margin: 0.3em 0; } .note { color: #666; font-size: 0.85em; }
.caution { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 1em; margin: 0.5em 0; }
.kpi { display: inline-block; margin: 0 1.5em 0.5em 0; } .kpi b { display: block; font-size: 1.3em; }
"""


class HtmlReport:
    """Build a report page piece by piece and write it as one self-contained HTML file.

    Parameters
    ----------
    title
        Page title.
    subtitle
        One line under the title (scenario, date, key parameters).
    """

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self._parts: list[str] = []

    def heading(self, text: str, anchor: str | None = None) -> None:
        """Add a section heading."""
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self._parts.append(f"<h2{ident}>{html.escape(text)}</h2>")

    def paragraph(self, text: str, css_class: str | None = None) -> None:
        """Add a paragraph of plain text."""
        cls = f' class="{css_class}"' if css_class else ""
        self._parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def kpis(self, items: list[tuple[str, str]]) -> None:
        """Add headline figures, each a label over its value."""
        spans = "".join(f'<span class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></span>' for k, v in items)
        self._parts.append(f"<div>{spans}</div>")

    def caution(self, text: str) -> None:
        """Add a highlighted note the reader must not miss."""
        self._parts.append(f'<div class="caution">{html.escape(text)}</div>')

    def bullets(self, items: list[str], css_class: str = "findings") -> None:
        """Add a bulleted list of plain-text items."""
        rows = "".join(f"<li>{html.escape(item)}</li>" for item in items)
        self._parts.append(f'<ul class="{css_class}">{rows}</ul>')

    def table(
        self,
        frame: pd.DataFrame,
        caption: str = "",
        float_format: str = "{:,.1f}",
        index: bool = True,
        formats: dict[str, str] | None = None,
    ) -> None:
        """Add a table; numbers are formatted with ``formats[column]``, floats else with ``float_format``."""
        shown = frame.copy()
        formats = formats or {}
        for col in shown.columns:
            fmt = formats.get(str(col))
            if fmt is None and pd.api.types.is_float_dtype(shown[col]):
                fmt = float_format
            if fmt is not None:
                shown[col] = shown[col].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
        body = shown.to_html(index=index, escape=True, border=0)
        cap = f'<p class="note">{html.escape(caption)}</p>' if caption else ""
        self._parts.append(body + cap)

    def figure(self, fig: Any, caption: str = "", alt: str = "") -> None:
        """Add a matplotlib figure as an embedded PNG (and close it if pyplot made it)."""
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(fig)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        alt_text = html.escape(alt or caption or "figure")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img alt="{alt_text}" src="data:image/png;base64,{data}">{cap}</figure>')

    def render(self) -> str:
        """Return the page as HTML text."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>"
            f'<h1>{html.escape(self.title)}</h1><p class="subtitle">{html.escape(self.subtitle)}</p>'
            + "\n".join(self._parts)
            + f'<p class="note">Generated {stamp} by offtake.</p></body></html>\n'
        )

    def write(self, path: str | Path) -> Path:
        """Write the page to ``path`` and return the path."""
        target = Path(path)
        target.write_text(self.render(), encoding="utf-8")
        return target
