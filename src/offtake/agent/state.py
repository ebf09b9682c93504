"""The cap schedule kept on disk, so that a restarted agent applies the cap in force at once.

The agent writes the windows it follows (caps and emergencies, with their bounds) to a small
JSON file, owner-only (0600), atomically (a temporary file in the same folder, flushed and
renamed over the old one), whenever they change. After a restart it reads them back before
its first plan: the cap in force now applies (or the safe level, when it has expired) even
while the VTN cannot be reached, and before any machine is resumed.

A file that cannot be read is not trusted: the agent starts with no window (the safe level
applies until the VTN answers) and says why.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from offtake.agent.schedule import Window
from offtake.errors import InputError

__all__ = ["SavedSchedule", "load_schedule", "save_schedule"]

_VERSION = 1


@dataclass(frozen=True, slots=True)
class SavedSchedule:
    """What a restarted agent reads back.

    Attributes
    ----------
    windows
        Cap and emergency windows as last known.
    last_event_id
        The event that reports refer to, if known.
    saved_at
        When the file was written (aware UTC).
    """

    windows: tuple[Window, ...]
    last_event_id: str | None
    saved_at: datetime


def _window_json(w: Window) -> dict[str, Any]:
    return {"event_id": w.event_id, "kind": w.kind, "start": w.start.isoformat(), "end": w.end.isoformat(),
            "cap_w": w.cap_w, "priority": w.priority}  # fmt: skip


def save_schedule(path: Path, windows: Sequence[Window], last_event_id: str | None, now: datetime) -> None:
    """Write the schedule to ``path`` atomically, readable by its owner only.

    Parameters
    ----------
    path
        The state file.
    windows
        The windows to keep.
    last_event_id
        The event reports refer to.
    now
        Aware time of writing.
    """
    body = {"version": _VERSION, "saved_at": now.isoformat(), "last_event_id": last_event_id,
            "windows": [_window_json(w) for w in windows]}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _aware(text: Any, where: str, path: Path) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise InputError(f"'{text}' is not a time", file=path, field=where) from None
    if value.tzinfo is None:
        raise InputError("a time without its offset", file=path, field=where)
    return value


def _window(raw: Any, i: int, path: Path) -> Window:
    where = f"windows[{i}]"
    if not isinstance(raw, dict) or raw.get("kind") not in ("cap", "emergency"):
        raise InputError("expected a cap or emergency window", file=path, field=where)
    cap = raw.get("cap_w")
    cap_w: float | None = None
    if raw["kind"] == "cap":
        if isinstance(cap, bool) or not isinstance(cap, int | float) or cap < 0:
            raise InputError(f"expected a non-negative cap, got {cap!r}", file=path, field=f"{where}.cap_w")
        cap_w = float(cap)
    priority = raw.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InputError(f"expected an integer, got {priority!r}", file=path, field=f"{where}.priority")
    start, end = _aware(raw.get("start"), f"{where}.start", path), _aware(raw.get("end"), f"{where}.end", path)
    return Window(str(raw.get("event_id", "")), raw["kind"], start, end, cap_w, priority)


def load_schedule(path: Path) -> SavedSchedule | None:
    """Read the schedule back; ``None`` when there is no file yet.

    Raises
    ------
    InputError
        Naming the file and the field when it is not a schedule this agent wrote.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise InputError(f"not JSON: {exc}", file=path) from None
    if not isinstance(body, dict) or body.get("version") != _VERSION:
        raise InputError(f"expected a version {_VERSION} schedule", file=path, field="version")
    raw_windows = body.get("windows")
    if not isinstance(raw_windows, list):
        raise InputError("expected a list", file=path, field="windows")
    windows = tuple(_window(raw, i, path) for i, raw in enumerate(raw_windows))
    last = body.get("last_event_id")
    return SavedSchedule(windows, str(last) if last is not None else None,
                         _aware(body.get("saved_at"), "saved_at", path))  # fmt: skip
