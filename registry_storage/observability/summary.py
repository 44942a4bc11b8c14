"""A per-action timing summary of driver calls, for ``registry-storage --trace``.

:class:`CallSummary` is a recorder (see :mod:`registry_storage.observability.calls`) that counts calls, their total
seconds and bytes per driver and action, and keeps each action's durations in a fixed log-scale histogram (10
buckets per decade from 1 us to 10,000 s), so its memory stays bounded however many calls it sees and p50/p99 are
exact to within one bucket (about 26%).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from .calls import READ

_BUCKETS_PER_DECADE = 10
_LOWEST = 1e-6
_BUCKETS = 10 * _BUCKETS_PER_DECADE + 1


def _bucket(seconds: float) -> int:
    if seconds <= _LOWEST:
        return 0
    return min(_BUCKETS - 1, 1 + int(math.log10(seconds / _LOWEST) * _BUCKETS_PER_DECADE))


def _upper_bound(bucket: int) -> float:
    return float(_LOWEST * 10 ** (bucket / _BUCKETS_PER_DECADE))


@dataclass
class ActionStats:
    """What one driver's calls of one action added up to."""

    calls: int = 0
    errors: int = 0
    seconds: float = 0.0
    longest: float = 0.0
    bytes_read: int = 0
    bytes_written: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * _BUCKETS)

    def quantile(self, fraction: float) -> float:
        """The duration below which ``fraction`` of the calls ended (a bucket's upper bound, at most the longest)."""
        if not self.calls:
            return 0.0
        wanted = max(1, math.ceil(fraction * self.calls))
        seen = 0
        for bucket, count in enumerate(self.histogram):
            seen += count
            if seen >= wanted:
                return min(_upper_bound(bucket), self.longest)
        return self.longest


class CallSummary:
    """Counts every driver call by ``(driver, action)``; thread-safe. Install with ``add_recorder``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str], ActionStats] = {}
        self._last_action: dict[str, str] = {}

    def _of(self, driver: str, action: str) -> ActionStats:
        stats = self._stats.get((driver, action))
        if stats is None:
            stats = self._stats[(driver, action)] = ActionStats()
        return stats

    def started(self, driver: str, action: str) -> None:
        return

    def finished(self, driver: str, action: str, seconds: float, error: BaseException | None) -> None:
        with self._lock:
            stats = self._of(driver, action)
            stats.calls += 1
            stats.errors += error is not None
            stats.seconds += seconds
            stats.longest = max(stats.longest, seconds)
            stats.histogram[_bucket(seconds)] += 1

    def moved(self, driver: str, direction: str, count: int) -> None:
        with self._lock:
            if direction == READ:
                self._of(driver, "bytes").bytes_read += count
            else:
                self._of(driver, "bytes").bytes_written += count

    def snapshot(self) -> dict[tuple[str, str], ActionStats]:
        """A copy of the stats so far, by ``(driver, action)``; the bytes are under the action ``bytes``."""
        with self._lock:
            return {
                key: ActionStats(
                    stats.calls,
                    stats.errors,
                    stats.seconds,
                    stats.longest,
                    stats.bytes_read,
                    stats.bytes_written,
                    list(stats.histogram),
                )
                for key, stats in self._stats.items()
            }

    def report(self) -> str:
        """The summary as a table: one line per driver and action, then the bytes read and written per driver."""
        snapshot = self.snapshot()
        header = f"{'driver':<12} {'action':<13} {'calls':>7} {'errors':>6} {'total s':>10} {'p50 s':>10} {'p99 s':>10}"
        lines = [header]
        moved: list[str] = []
        for (driver, action), stats in sorted(snapshot.items()):
            if action == "bytes":
                moved.append(f"{driver}: {stats.bytes_read} bytes read, {stats.bytes_written} bytes written")
                continue
            lines.append(
                f"{driver:<12} {action:<13} {stats.calls:>7} {stats.errors:>6} {stats.seconds:>10.6f}"
                f" {stats.quantile(0.5):>10.6f} {stats.quantile(0.99):>10.6f}"
            )
        if len(lines) == 1:
            return "no storage calls\n"
        return "\n".join(lines + moved) + "\n"


__all__ = ["ActionStats", "CallSummary"]
