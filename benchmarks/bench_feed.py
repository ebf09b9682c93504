"""Opening the Pakistan scenario's grid feed: assessed once, then read from the cache.

Target (issue 16): a ``dispatch run-once`` or a server start after the first answers within about a
second, instead of re-assessing the year (30-45 s) every time.
Measured on the project's shared 2-core machine: assessed 16.8 s (27.6 s under load), read from the
cache 0.18 s; ``offtake dispatch run-once`` end to end 36 s the first time, 2.0 s CPU (interpreter
start and imports included) afterwards.

Run: ``PYTHONPATH=src python benchmarks/bench_feed.py``
"""

from __future__ import annotations

import tempfile
import time

from offtake.live.feed import ScenarioReplayFeed


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        for attempt in ("first (assess and write the cache)", "second (read the cache)"):
            started = time.perf_counter()
            feed = ScenarioReplayFeed.from_scenario("pakistan-2025", cache_dir=cache)
            print(f"{attempt}: {time.perf_counter() - started:.2f} s, prepared from {feed.prepared}")


if __name__ == "__main__":
    main()
