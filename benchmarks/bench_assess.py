"""Benchmark: ``offtake assess`` on the bundled Pakistan scenario (target: under 30 s and 2 GB).

Runs the whole job as the command does (load, least-cost dispatch, surplus, tariff curve at 31
tariffs, headroom, report and CSV files) in a fresh process and reports wall time and peak
resident memory.

Measured on the 2-core development machine (other jobs running beside it):
17.2 s wall, 0.62 GB peak resident memory.

Run::

    python benchmarks/bench_assess.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time

from offtake import scenario
from offtake.progress import Progress
from offtake.surplus.study import run_assessment, write_outputs

TARGET_S = 30.0
TARGET_GB = 2.0


def main() -> int:
    started = time.perf_counter()
    loaded = scenario.load("pakistan-2025")
    result = run_assessment(loaded, progress=Progress(5))
    with tempfile.TemporaryDirectory() as out:
        write_outputs(result, out)
    elapsed_s = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"offtake assess pakistan-2025: {elapsed_s:.1f} s wall, {peak_gb:.2f} GB peak resident memory")
    ok = elapsed_s < TARGET_S and peak_gb < TARGET_GB
    print("within target" if ok else f"OVER TARGET ({TARGET_S} s, {TARGET_GB} GB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
