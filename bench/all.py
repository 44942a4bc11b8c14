"""Every benchmark in one run, and one table of what each measured against its target (``make bench``).

Each benchmark runs as its own process with ``--json`` and contributes its rows (measure, value, target, verdict);
every ratio in a row was measured within that benchmark's run, on the same machine, minutes apart from the others.
A benchmark that fails is reported as such and the others still run.

Usage: ``python bench/all.py [--quick]``; ``--quick`` moves less data (for trying the table out, not for figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    ("protocol and proxy", ["run.py", "--size", "512"], ["run.py", "--size", "64"]),
    ("registry trace", ["registry.py"], ["registry.py", "--rounds", "1", "--layers", "20"]),
    ("S3 on moto", ["s3.py"], ["s3.py", "--size", "32", "--runs", "1"]),
    ("Azure on Azurite", ["azure.py"], ["azure.py", "--size", "32", "--runs", "1"]),
]
"""(title, full arguments, --quick arguments) of each benchmark script in bench/ that reports rows in JSON."""

TEXT_BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    ("tracing and metrics overhead", ["observability.py"], ["observability.py"]),
    ("asyncio proxy against the threaded proxy", ["aio.py"], ["aio.py"]),
    ("GCS on fake-gcs-server", ["gcs.py"], ["gcs.py", "--size", "32"]),
]
"""Benchmarks whose own table is printed as it is, after the rows (their targets are in their tables)."""

Row = tuple[str, str, str, str]


def run_benchmark(arguments: list[str]) -> tuple[list[Row], str]:
    """Run one benchmark script with ``--json``; its table rows, or no rows and the reason it failed."""
    command = [sys.executable, str(BENCH / arguments[0]), *arguments[1:], "--json"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return [], f"failed with status {completed.returncode}: {tail}"
    document = json.loads(completed.stdout[completed.stdout.index("{") :])
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in document["table"]], ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="move less data: try the table, do not quote it")
    quick = parser.parse_args().quick
    sections: list[tuple[str, list[Row], str, float]] = []
    for title, full, short in BENCHMARKS:
        print(f"running {title} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rows, failure = run_benchmark(short if quick else full)
        sections.append((title, rows, failure, time.perf_counter() - started))
    every_row = [row for _, rows, _, _ in sections for row in rows]
    width = max((len(row[0]) for row in every_row), default=20)
    value_width = max((len(row[1]) for row in every_row), default=10)
    print(f"registry-storage benchmarks{' (quick)' if quick else ''}, {os.cpu_count()} cores")
    for title, rows, failure, seconds in sections:
        print(f"\n{title} ({seconds:.0f} s)" + (f": {failure}" if failure else ""))
        for measure, value, target, verdict in rows:
            print(f"  {measure:<{width}}  {value:<{value_width}}  {target:<28} {verdict}".rstrip())
    for title, full, short in TEXT_BENCHMARKS:
        print(f"running {title} ...", file=sys.stderr, flush=True)
        arguments = short if quick else full
        command = [sys.executable, str(BENCH / arguments[0]), *arguments[1:]]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        status = "" if completed.returncode == 0 else f": failed with status {completed.returncode}"
        failed_text = completed.returncode != 0
        print(f"\n{title}{status}")
        for line in (completed.stdout if not failed_text else completed.stderr[-2000:]).splitlines():
            print(f"  {line}")
        if failed_text:
            sections.append((title, [], "failed", 0.0))
    verdicts = [row[3] for row in every_row if row[3]]
    misses = verdicts.count("MISS")
    failed = sum(1 for _, _, failure, _ in sections if failure)
    print(f"\n{len(verdicts) - misses} targets ok, {misses} missed, {failed} benchmarks failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
