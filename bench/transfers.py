"""Transfer benchmarks' shared parts (bench/s3.py, bench/azure.py): the bytes moved, sources and sinks for library
calls, interleaved timing and the result table, where the proxy is held to the fastest library of each direction.

The data is the same as bench/run.py's: 1 MiB chunks of one random block, each made distinct by an 8-byte prefix,
generated as they are consumed, so no case holds the whole object in memory.

Every case reports wall time and CPU time: this process's (getrusage; its library threads included) and, for a
driver out of process, its child's (/proc/PID/stat). On this shared machine wall time drifts and CPU time does not.
The servers' own CPU (moto, Azurite) is in neither.
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

from bench.run import CHUNK, MIB, chunks, cpu_seconds, drain
from registry_storage.driver import StorageDriver

__all__ = [
    "CHUNK",
    "MIB",
    "TARGET_RATIO",
    "Case",
    "Comparison",
    "DiscardSink",
    "Timing",
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
class Timing:
    """One run of a case: wall seconds, CPU seconds of this process and of the driver's child (0 in process)."""

    seconds: float
    cpu: float
    child_cpu: float = 0.0


@dataclass(frozen=True)
class Case:
    """One measured transfer.

    ``run`` sets up what it needs untimed (a fresh bucket or container, the object to read, the driver), times the
    transfer alone, checks the byte count, and returns its :class:`Timing`. ``role`` is ``proxy`` (the measured
    subject), ``driver`` (the same driver in process) or ``sdk`` (a baseline the proxy is held to the target against).
    """

    name: str
    direction: str
    label: str
    role: str
    run: Callable[[], Timing]


@dataclass(frozen=True)
class Comparison:
    """One more target row: case ``subject``'s time over the fastest of ``baselines``, at most ``target``."""

    label: str
    subject: str
    baselines: tuple[str, ...]
    target: float


def timed(action: Callable[[], int], expected: int, driver: StorageDriver | None = None) -> Timing:
    """Wall and CPU time ``action`` takes (with the child's, when ``driver`` is out of process); raises RuntimeError
    unless it reports moving ``expected`` bytes."""
    pid = getattr(driver, "pid", None)
    child = pid if isinstance(pid, int) else None
    child_before = cpu_seconds(child) if child else 0.0
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    moved = action()
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    child_cpu = cpu_seconds(child) - child_before if child else 0.0
    if moved != expected:
        raise RuntimeError(f"moved {moved} bytes, expected {expected}")
    return Timing(seconds, cpu, child_cpu)


def measure(cases: list[Case], runs: int, progress: Callable[[str], None]) -> dict[str, list[Timing]]:
    """Run every case ``runs`` times, interleaved (all cases, then all again), so load spikes spread evenly."""
    timings: dict[str, list[Timing]] = {case.name: [] for case in cases}
    for round_number in range(1, runs + 1):
        for case in cases:
            taken = case.run()
            timings[case.name].append(taken)
            cpu = f", cpu {taken.cpu:.2f} s" + (f" + child {taken.child_cpu:.2f} s" if taken.child_cpu else "")
            progress(f"run {round_number}/{runs} {case.name}: {taken.seconds:.2f} s{cpu}")
    return timings


# -- reporting -------------------------------------------------------------------------------------------------------


def _median(timings: list[Timing]) -> Timing:
    """Per field, the median over the runs."""
    return Timing(
        statistics.median(t.seconds for t in timings),
        statistics.median(t.cpu for t in timings),
        statistics.median(t.child_cpu for t in timings),
    )


def _rows(cases: list[Case], typical: dict[str, Timing], size: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for direction in dict.fromkeys(case.direction for case in cases):
        in_direction = [case for case in cases if case.direction == direction]
        proxy = next(case for case in in_direction if case.role == "proxy")
        libraries = [case for case in in_direction if case.role == "sdk"]
        fastest = min(libraries, key=lambda case: typical[case.name].seconds) if libraries else None
        for case in in_direction:
            timing = typical[case.name]
            ratio = None if case is proxy else typical[proxy.name].seconds / timing.seconds
            target = f"<= {TARGET_RATIO:g}x (fastest library)" if case is fastest else ""
            verdict = ("ok" if ratio <= TARGET_RATIO else "MISS") if ratio is not None and target else ""
            rows.append(
                {
                    "direction": direction,
                    "case": case.name,
                    "label": case.label,
                    "seconds": timing.seconds,
                    "cpu_seconds": timing.cpu,
                    "child_cpu_seconds": timing.child_cpu,
                    "mb_per_s": size / timing.seconds / 1e6,
                    "proxy_ratio": ratio,
                    "target": target,
                    "verdict": verdict,
                }
            )
    return rows


def _comparison_rows(
    comparisons: list[Comparison], cases: list[Case], typical: dict[str, Timing], size: int
) -> list[dict[str, Any]]:
    labels = {case.name: case.label for case in cases}
    rows: list[dict[str, Any]] = []
    for comparison in comparisons:
        subject = typical[comparison.subject]
        fastest = min(comparison.baselines, key=lambda name: typical[name].seconds)
        ratio = subject.seconds / typical[fastest].seconds
        rows.append(
            {
                "label": comparison.label,
                "subject": comparison.subject,
                "baseline": fastest,
                "baseline_label": labels[fastest],
                "seconds": subject.seconds,
                "baseline_seconds": typical[fastest].seconds,
                "mb_per_s": size / subject.seconds / 1e6,
                "ratio": ratio,
                "target": f"<= {comparison.target:g}x",
                "verdict": "ok" if ratio <= comparison.target else "MISS",
            }
        )
    return rows


def _cpu_text(row: dict[str, Any]) -> str:
    child = row["child_cpu_seconds"]
    return f"{row['cpu_seconds']:.2f}" + (f"+{child:.2f}" if child else "")


def report(
    title: str,
    cases: list[Case],
    timings: dict[str, list[Timing]],
    size: int,
    *,
    as_json: bool,
    notes: list[str],
    comparisons: list[Comparison] | None = None,
) -> None:
    """Print the table (or JSON): per case the median time of its runs, MB/s, the median CPU seconds (this process,
    + the child's) and proxy time / this case's time; then the extra ``comparisons``."""
    typical = {name: _median(values) for name, values in timings.items()}
    rows = _rows(cases, typical, size)
    extra = _comparison_rows(comparisons or [], cases, typical, size)
    if as_json:
        table = [
            (
                f"{row['direction']}: proxy vs {row['label']}",
                f"{row['proxy_ratio']:.2f}x ({row['seconds']:.2f} s, {row['mb_per_s']:.0f} MB/s, "
                f"cpu {_cpu_text(row)} s)",
                row["target"],
                row["verdict"],
            )
            for row in rows
            if row["proxy_ratio"] is not None
        ]
        table += [
            (
                row["label"],
                f"{row['ratio']:.2f}x ({row['seconds']:.2f} s vs {row['baseline_seconds']:.2f} s)",
                row["target"],
                row["verdict"],
            )
            for row in extra
        ]
        document = {
            "title": title,
            "size_bytes": size,
            "seconds": {name: [t.seconds for t in values] for name, values in timings.items()},
            "cpu_seconds": {name: [t.cpu for t in values] for name, values in timings.items()},
            "child_cpu_seconds": {name: [t.child_cpu for t in values] for name, values in timings.items()},
            "rows": rows,
            "comparisons": extra,
            "table": table,
            "notes": notes,
        }
        print(json.dumps(document, indent=2))
        return
    label_width = max(len(row["label"]) for row in rows)
    print(title)
    header = (
        f"  {'direction':<9}  {'case':<{label_width}}  {'seconds':>7}  {'MB/s':>6}  {'cpu s':>9}  {'proxy/this':>10}"
        "  target"
    )
    print(header)
    for row in rows:
        ratio = "-" if row["proxy_ratio"] is None else f"{row['proxy_ratio']:.2f}x"
        target = f"{row['target']} {row['verdict']}".strip()
        line = (
            f"  {row['direction']:<9}  {row['label']:<{label_width}}  {row['seconds']:>7.2f}  "
            f"{row['mb_per_s']:>6.0f}  {_cpu_text(row):>9}  {ratio:>10}  {target}"
        )
        print(line.rstrip())
    for row in extra:
        print(
            f"  {row['label']}: {row['ratio']:.2f}x ({row['seconds']:.2f} s vs {row['baseline_seconds']:.2f} s, "
            f"{row['baseline_label']}), target {row['target']} {row['verdict']}"
        )
    for note in notes:
        print(f"  {note}")
