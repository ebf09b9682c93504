"""The operator's own log of every command sent and every answer, one JSON line each, rotated."""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["CommandLog"]


class CommandLog:
    """A rotating JSON-lines log.

    Parameters
    ----------
    path
        Log file (``None`` keeps no file, e.g. in benchmarks).
    max_bytes
        Size at which the file rotates [bytes].
    backups
        Rotated files kept.
    """

    def __init__(self, path: Path | None, *, max_bytes: int = 5_000_000, backups: int = 5) -> None:
        self._logger = logging.getLogger(f"offtake.agent.commands.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._handler: logging.Handler | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                                 encoding="utf-8")  # fmt: skip
            self._handler.setFormatter(logging.Formatter("%(message)s"))
            self._logger.addHandler(self._handler)

    def record(self, target: str, command: str, body: Any, answer: Any) -> None:
        """Write one command and its answer (``target`` is ``vtn``, a machine id or ``agent``)."""
        if self._handler is None:
            return
        line = {"at": datetime.now(UTC).isoformat(), "to": target, "command": command, "body": body,
                "answer": answer}  # fmt: skip
        self._logger.info(json.dumps(line, default=str))

    def close(self) -> None:
        """Flush and close the file."""
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
