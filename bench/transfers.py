"""Transfer benchmarks' shared parts (bench/s3.py, bench/azure.py): the bytes moved, sources and sinks for library
calls, interleaved timing and the result table, where the proxy is held to the fastest library of each direction.

The data is the same as bench/run.py's: 1 MiB chunks of one random block, each made distinct by an 8-byte prefix,
generated as they are consumed, so no case holds the whole object in memory.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.run import CHUNK, MIB, chunks, drain

__all__ = [
    "CHUNK",
    "MIB",
    "TARGET_RATIO",
    "Case",
    "DiscardSink",
    "chunks",
    "drain",
    "generated_file",
    "measure",
    "report",
]

TARGET_RATIO = 1.25
"""The target: the proxy takes at most this many times the fastest library's time for the same transfer."""


# -- sources and sinks -----------------------------------------------------------------------------------------------


class _ChunkSource(io.RawIOBase):
    """A raw, read-only stream over the chunks of :func:`chunks`, produced as they are read."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self._chunks = chunks(total)
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._current:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._current = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._current))
        target[:count] = self._current[:count]
        self._current = self._current[count:]
        return count


def generated_file(total: int) -> io.BufferedReader:
    """A non-seekable binary file of ``total`` bytes (the bytes of :func:`chunks`); ``read(n)`` returns n bytes
    until the end, as upload helpers that cut parts from ``read`` expect."""
    return io.BufferedReader(_ChunkSource(total), buffer_size=CHUNK)


class DiscardSink(io.RawIOBase):
    """A writable, seekable binary sink that keeps nothing: it counts the bytes written and tracks the position
    (SDKs that download in parallel seek to each chunk's offset)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self._position = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        count = memoryview(data).nbytes
        self.written += count
        self._position += count
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._position = offset
        elif whence == os.SEEK_CUR:
            self._position += offset
        else:
            raise io.UnsupportedOperation("DiscardSink has no end to seek from")
        return self._position

    def tell(self) -> int:
        return self._position


# -- measuring -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One measured transfer.

    ``run`` sets up what it needs untimed (a fresh bucket or container, the object to read, the driver), times the
    transfer alone, checks the byte count, and returns the seconds. ``role`` is ``proxy`` (the measured subject),
    ``driver`` (the same driver in process) or ``sdk`` (a baseline the proxy is held to the target against).
    """

    name: str
    direction: str
    label: str
    role: str
    run: Callable[[], float]


def timed(action: Callable[[], int], expected: int) -> float:
    """Seconds ``action`` takes; raises RuntimeError unless it reports moving ``expected`` bytes."""
    started = time.perf_counter()
    moved = action()
    seconds = time.perf_counter() - started
    if moved != expected:
        raise RuntimeError(f"moved {moved} bytes, expected {expected}")
    return seconds


def measure(cases: list[Case], runs: int, progress: Callable[[str], None]) -> dict[str, list[float]]:
    """Run every case ``runs`` times, interleaved (all cases, then all again), so load spikes spread evenly."""
    seconds: dict[str, list[float]] = {case.name: [] for case in cases}
    for round_number in range(1, runs + 1):
        for case in cases:
            taken = case.run()
            seconds[case.name].append(taken)
            progress(f"run {round_number}/{runs} {case.name}: {taken:.2f} s")
    return seconds


# -- reporting -------------------------------------------------------------------------------------------------------


def _rows(cases: list[Case], typical: dict[str, float], size: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for direction in dict.fromkeys(case.direction for case in cases):
        in_direction = [case for case in cases if case.direction == direction]
        proxy = next(case for case in in_direction if case.role == "proxy")
        libraries = [case for case in in_direction if case.role == "sdk"]
        fastest = min(libraries, key=lambda case: typical[case.name]) if libraries else None
        for case in in_direction:
            seconds = typical[case.name]
            ratio = None if case is proxy else typical[proxy.name] / seconds
            target = f"<= {TARGET_RATIO:g}x (fastest library)" if case is fastest else ""
            verdict = ("ok" if ratio <= TARGET_RATIO else "MISS") if ratio is not None and target else ""
            rows.append(
                {
                    "direction": direction,
                    "case": case.name,
                    "label": case.label,
                    "seconds": seconds,
                    "mb_per_s": size / seconds / 1e6,
                    "proxy_ratio": ratio,
                    "target": target,
                    "verdict": verdict,
                }
            )
    return rows


def report(
    title: str, cases: list[Case], seconds: dict[str, list[float]], size: int, *, as_json: bool, notes: list[str]
) -> None:
    """Print the table (or JSON): per case the median time of its runs, MB/s, and proxy time / this case's time."""
    typical = {name: statistics.median(values) for name, values in seconds.items()}
    rows = _rows(cases, typical, size)
    if as_json:
        table = [
            (
                f"{row['direction']}: proxy vs {row['label']}",
                f"{row['proxy_ratio']:.2f}x ({row['seconds']:.2f} s, {row['mb_per_s']:.0f} MB/s)",
                row["target"],
                row["verdict"],
            )
            for row in rows
            if row["proxy_ratio"] is not None
        ]
        document = {
            "title": title,
            "size_bytes": size,
            "seconds": seconds,
            "rows": rows,
            "table": table,
            "notes": notes,
        }
        print(json.dumps(document, indent=2))
        return
    label_width = max(len(row["label"]) for row in rows)
    print(title)
    header = f"  {'direction':<9}  {'case':<{label_width}}  {'seconds':>7}  {'MB/s':>6}  {'proxy/this':>10}  target"
    print(header)
    for row in rows:
        ratio = "-" if row["proxy_ratio"] is None else f"{row['proxy_ratio']:.2f}x"
        target = f"{row['target']} {row['verdict']}".strip()
        line = (
            f"  {row['direction']:<9}  {row['label']:<{label_width}}  {row['seconds']:>7.2f}  "
            f"{row['mb_per_s']:>6.0f}  {ratio:>10}  {target}"
        )
        print(line.rstrip())
    for note in notes:
        print(f"  {note}")
