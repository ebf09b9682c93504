"""No dangling references: every ``*.md`` a data file, doc or module cites is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
CITED = re.compile(r"(?<![\w.-])/?((?:[\w.-]+/)*[\w-]+\.md)\b")
SEARCHED = [
    "src/offtake/**/*.md",
    "src/offtake/**/*.toml",
    "src/offtake/**/*.csv",
    "src/offtake/**/*.py",
    "docs/**/*.md",
]


def _resolves(cited: str, source: Path) -> bool:
    name = cited.lstrip("/")
    scenarios = sorted((ROOT / "src" / "offtake" / "data" / "scenarios").iterdir())
    places = [source.parent, ROOT, ROOT / "docs", ROOT / "docs" / "reference", *scenarios]
    return any((place / name).is_file() for place in places)


def dangling() -> list[str]:
    """Return ``file:line: cited`` for every citation of a Markdown file that is not in the repository."""
    found = []
    files = {p for pattern in SEARCHED for p in ROOT.glob(pattern)} | {ROOT / "README.md"}
    for path in sorted(files):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for cited in CITED.findall(line):
                if ("://" in line and f"/{cited}" in line.split("://", 1)[1]) or "GitHub repo" in line:
                    continue  # part of a web address, or a file of another repository
                if not _resolves(cited, path):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {cited}")
    return found


def test_every_cited_markdown_file_exists() -> None:
    assert dangling() == []


def test_a_missing_file_is_caught(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("see reference/nowhere.md §2 and SOURCES.md\n", encoding="utf-8")
    assert not _resolves("reference/nowhere.md", note)
    assert _resolves("docs/glossary.md", note) and _resolves("/docs/formats.md", note)
    assert CITED.findall("(pakistan-grid.md §4.1); `reference/domain.md` §4") == [
        "pakistan-grid.md",
        "reference/domain.md",
    ]
