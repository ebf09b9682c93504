"""Checks every report page must pass: self-contained (no external URL loaded), charts readable back."""

from __future__ import annotations

import re
from typing import Any

from offtake.report import chart_specs

_LOADS = re.compile(
    r"<(?:script|link|img|iframe|source|embed|object)\b[^>]*\b(?:src|href|data)\s*=\s*[\"']?([^\"' >]+)", re.I
)
_CSS_URL = re.compile(r"url\(\s*[\"']?(https?:|//)", re.I)


def external_loads(page: str) -> list[str]:
    """Return every address the page's own markup would fetch from elsewhere (script/style/img sources)."""
    found = [ref for ref in _LOADS.findall(page) if re.match(r"(https?:)?//", ref)]
    styles = "".join(re.findall(r"<style>(.*?)</style>", page, re.S))
    return found + _CSS_URL.findall(styles) + re.findall(r"@import\s+[\"']?https?:", styles)


def assert_self_contained(page: str) -> list[dict[str, Any]]:
    """Assert the page loads nothing from the network and embeds plotly.js once; return its charts."""
    assert external_loads(page) == []
    specs = chart_specs(page)
    if specs:
        assert page.count("<script>") == 2  # plotly.js once, then the loader
        assert "Plotly.newPlot" in page
    return specs


def trace(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the trace called ``name`` of a chart."""
    matches = [t for t in spec["data"] if t.get("name") == name]
    assert len(matches) == 1, f"{len(matches)} traces named {name!r}"
    found: dict[str, Any] = matches[0]
    return found
