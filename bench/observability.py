"""Cost of the observation every driver call runs in, per call, in one process and one run.

Each mode times ``stat`` of a file on the in-memory driver, interleaved over several rounds (the best round counts,
wall and CPU time side by side):

- ``driver``: the driver's own ``_stat``, no base class at all;
- ``seed base``: the base class as it was before observation (path check and error attribution in a
  ``contextmanager``), rebuilt here for comparison;
- ``nothing installed``: the public ``stat`` as it runs without opentelemetry-api and prometheus_client (one
  attribute read decides);
- ``API, no provider``: opentelemetry-api installed, no tracer provider configured, metrics off;
- ``metrics``: prometheus_client recording, no tracer provider;
- ``SDK spans + metrics``: an SDK tracer provider (spans made and dropped by a no-op processor) and metrics.

Target: observation with no provider costs under 1 us per call over the seed base class. Usage:
``python bench/observability.py [--calls N] [--rounds N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.errors import StorageDriverError
from registry_storage.fileinfo import FileInfo
from registry_storage.observability import metrics
from registry_storage.observability.calls import OBSERVERS
from registry_storage.paths import check_path

TARGET_NO_PROVIDER_US = 1.0
PATH = "/docker/registry/v2/blobs/sha256/ab/abcdef/data"


@contextmanager
def _attributed(driver: str) -> Generator[None, None, None]:
    """The seed's error attribution, exactly as the base class had it before observation."""
    try:
        yield
    except StorageDriverError as error:
        if not error.driver:
            error.driver = driver
        raise


def _seed_stat(driver: InMemoryDriver, path: str) -> FileInfo:
    with _attributed(driver.name):
        check_path(path, allow_root=True)
        return driver._stat(path)


def _time(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """Wall and CPU seconds per call of ``call`` over ``calls`` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        call()
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


class _Modes:
    """Switches the process between the observation modes; each ``enter_*`` sets one up from scratch."""

    def __init__(self) -> None:
        self.active = OBSERVERS.active
        self.provider = TracerProvider()
        self.provider.add_span_processor(SpanProcessor())

    def nothing_installed(self) -> None:
        metrics.disable()
        self._set_provider(None)
        OBSERVERS.active = False  # what the attribute is when neither library is importable

    def api_no_provider(self) -> None:
        metrics.disable()
        self._set_provider(None)
        OBSERVERS.active = self.active

    def metrics_only(self) -> None:
        self._set_provider(None)
        metrics.enable()

    def sdk_and_metrics(self) -> None:
        metrics.enable()
        self._set_provider(self.provider)

    def _set_provider(self, provider: Any) -> None:
        trace._TRACER_PROVIDER = provider  # the benchmark flips the global provider in and out between rounds


def measure(calls: int, rounds: int) -> dict[str, dict[str, float]]:
    """Best-round wall and CPU microseconds per call of every mode."""
    driver = InMemoryDriver()
    driver.put_content(PATH, b"x" * 100)
    modes = _Modes()
    cases: list[tuple[str, Callable[[], None], Callable[[], object]]] = [
        ("driver", modes.nothing_installed, lambda: driver._stat(PATH)),
        ("seed base", modes.nothing_installed, lambda: _seed_stat(driver, PATH)),
        ("nothing installed", modes.nothing_installed, lambda: driver.stat(PATH)),
        ("API, no provider", modes.api_no_provider, lambda: driver.stat(PATH)),
        ("metrics", modes.metrics_only, lambda: driver.stat(PATH)),
        ("SDK spans + metrics", modes.sdk_and_metrics, lambda: driver.stat(PATH)),
    ]
    best: dict[str, dict[str, float]] = {}
    try:
        for _ in range(rounds):
            for name, setup, call in cases:
                setup()
                call()
                wall, cpu = _time(call, calls)
                known = best.setdefault(name, {"wall_us": float("inf"), "cpu_us": float("inf")})
                known["wall_us"] = min(known["wall_us"], wall * 1e6)
                known["cpu_us"] = min(known["cpu_us"], cpu * 1e6)
    finally:
        modes.api_no_provider()
        metrics.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50_000, help="calls per mode and round (default 50000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best counts (default 5)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args()
    results = measure(args.calls, args.rounds)
    seed = results["seed base"]
    overhead = {name: result["cpu_us"] - seed["cpu_us"] for name, result in results.items()}
    no_provider = max(overhead["nothing installed"], overhead["API, no provider"])
    if args.json:
        print(json.dumps({"results": results, "overhead_cpu_us": overhead, "target_us": TARGET_NO_PROVIDER_US}))
        return
    print(f"{'mode':<22} {'wall us':>9} {'cpu us':>9} {'cpu - seed us':>14} {'x driver':>9}")
    for name, result in results.items():
        ratio = result["cpu_us"] / results["driver"]["cpu_us"]
        print(f"{name:<22} {result['wall_us']:>9.3f} {result['cpu_us']:>9.3f} {overhead[name]:>14.3f} {ratio:>9.2f}")
    verdict = "met" if no_provider < TARGET_NO_PROVIDER_US else "MISSED"
    print(f"no-provider overhead {no_provider:.3f} us per call (target < {TARGET_NO_PROVIDER_US} us): {verdict}")


if __name__ == "__main__":
    main()
