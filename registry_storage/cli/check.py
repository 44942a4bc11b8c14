"""``registry-storage check``: run the conformance suite against a driver and print one row per check.

With no driver options it checks the filesystem driver out of process in a fresh temporary directory, then prints
a short speed summary. The last line of the table is ``N passed, M failed``; the exit status is 0 only when every
check passed.

A driver out of process gets ``--timeout`` seconds per call. One that stops answering fails the check that was
running, and the remaining checks are reported as not run instead of waiting out a deadline each; one that exits
fails the check that was running, and a new one is started for the next.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from registry_storage.cli.selection import DriverSpec, UsageError, add_driver_arguments, open_driver, spec_from_args
from registry_storage.driver import StorageDriver
from registry_storage.testing import CheckResult, ConformanceReport, run_conformance
from registry_storage.testing.runner import select_checks

SPEED_BYTES = 256 << 20
QUICK_SPEED_BYTES = 32 << 20
SPEED_CALL_SECONDS = 1.0
DEFAULT_TIMEOUT = 60.0
_HUNG = "DeadlineExceededError"


class _DriverHungError(Exception):
    """A check failed because the driver stopped answering: the run stops there."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``check`` subcommand."""
    parser = subparsers.add_parser(
        "check",
        help="run the conformance suite against a driver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_driver_arguments(parser)
    parser.add_argument("-k", dest="select", metavar="PATTERN", help="run only the checks whose name matches")
    parser.add_argument("--quick", action="store_true", help="shrink the large sizes for a fast smoke run")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed summary")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"deadline of each call to a driver out of process (default {DEFAULT_TIMEOUT:g})",
    )
    parser.set_defaults(run=run)


@contextmanager
def _default_spec(args: argparse.Namespace) -> Iterator[DriverSpec]:
    chosen = spec_from_args(args, default=DriverSpec())
    if chosen.name or chosen.executable:
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="registry-storage-check-") as root:
        yield DriverSpec(name="filesystem", parameters={"rootdirectory": root}, out_of_process=True)


def _print_row(result: CheckResult) -> None:
    verdict = "PASS" if result.passed else "FAIL"
    print(f"{verdict}  {result.seconds:8.3f}s  {result.name}", flush=True)
    if result.error:
        for line in result.error.strip().splitlines()[:6]:
            print(f"      {line}")


def run(args: argparse.Namespace) -> int:
    """Run the checks; return 0 when all passed, 1 otherwise."""
    if not args.timeout > 0:
        raise UsageError("--timeout must be a positive number of seconds")
    with _default_spec(args) as spec:

        def make_driver() -> StorageDriver:
            return open_driver(spec, timeout=args.timeout, start_timeout=max(args.timeout, DEFAULT_TIMEOUT))

        if not args.json:
            print(f"checking {spec.describe()}", flush=True)
        report = _run_checks(make_driver, args)
        speed = None
        if not args.no_speed and not args.select and report.ok:
            speed = measure_speed(make_driver, QUICK_SPEED_BYTES if args.quick else SPEED_BYTES)
    _print_report(report, speed, as_json=args.json)
    return 0 if report.ok and report.results else 1


def _run_checks(make_driver: Callable[[], StorageDriver], args: argparse.Namespace) -> ConformanceReport:
    """Run the selected checks, stopping at the first one a hung driver failed; the rest are reported not run."""
    results: list[CheckResult] = []

    def on_result(result: CheckResult) -> None:
        results.append(result)
        if not args.json:
            _print_row(result)
        if result.error and _HUNG in result.error:
            raise _DriverHungError(result.name)

    try:
        return run_conformance(make_driver, select=args.select, quick=args.quick, on_result=on_result)
    except _DriverHungError:
        done = {result.name for result in results}
        reason = f"not run: the driver stopped answering within {args.timeout:g} s in an earlier check"
        for check in select_checks(args.select):
            if check.name not in done:
                skipped = CheckResult(check.name, False, 0.0, reason)
                results.append(skipped)
                if not args.json:
                    _print_row(skipped)
        return ConformanceReport(results=results, quick=args.quick)


def _print_report(report: ConformanceReport, speed: dict[str, float] | None, *, as_json: bool) -> None:
    if as_json:
        document = report.to_dict()
        if speed is not None:
            document["speed"] = speed
        json.dump(document, sys.stdout, indent=2)
        print()
        return
    print(f"{report.passed} passed, {report.failed} failed")
    if speed is not None:
        print(
            f"speed: write_stream {speed['write_mb_s']:.0f} MB/s, read_stream {speed['read_mb_s']:.0f} MB/s, "
            f"stat {speed['stat_calls_s']:.0f} calls/s"
        )


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    block = bytes(range(256)) * (size // 256)
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


def measure_speed(open_driver_: Callable[[], StorageDriver], size: int) -> dict[str, float]:
    """Stream ``size`` bytes each way and count ``stat`` calls for a second; MB/s are 10**6 bytes per second."""
    path = "/registry-storage-check/speed"
    with open_driver_() as driver:
        try:
            started = time.perf_counter()
            driver.write_stream(path, 0, _chunks(size))
            write_seconds = time.perf_counter() - started
            started = time.perf_counter()
            with driver.read_stream(path) as stream:
                while stream.read(1 << 20):
                    pass
            read_seconds = time.perf_counter() - started
            calls = 0
            started = time.perf_counter()
            while time.perf_counter() - started < SPEED_CALL_SECONDS:
                driver.stat(path)
                calls += 1
            call_seconds = time.perf_counter() - started
        finally:
            driver.delete("/registry-storage-check")
    return {
        "bytes": float(size),
        "write_mb_s": size / write_seconds / 1e6,
        "read_mb_s": size / read_seconds / 1e6,
        "stat_calls_s": calls / call_seconds,
    }
