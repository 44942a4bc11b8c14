"""Run the conformance checks against a driver outside pytest and report every result.

:func:`run_conformance` runs each selected check in turn. A check that raises is recorded (its error text) and the run
goes on. After every check the store must be empty again (``list("/") == []``): when it is not, the check fails and
the leftovers are deleted so the next check starts clean. When the run made the driver itself (from a factory) and
an out-of-process driver died during a check, a new one is made for the checks that follow.

Because of that clean-up the run refuses to start on a store that already holds data: it then reports one failed
result, ``store_is_empty_before_the_run``, and runs nothing.
"""

from __future__ import annotations

import fnmatch
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from registry_storage.driver import StorageDriver
from registry_storage.errors import DriverExitedError
from registry_storage.testing.catalog import CHECKS
from registry_storage.testing.expectations import ConformanceFailure, describe_error, shorten
from registry_storage.testing.registry import Check, ConformanceOptions

_PACKAGE = Path(__file__).parent

PREFLIGHT = "store_is_empty_before_the_run"
"""Name of the result reported, instead of any check, when the store is not empty (or not listable) at the start."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``error`` says what went wrong when ``passed`` is false."""

    name: str
    passed: bool
    seconds: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: name, passed, seconds, error."""
        return {"name": self.name, "passed": self.passed, "seconds": round(self.seconds, 6), "error": self.error}


@dataclass
class ConformanceReport:
    """Every result of one run, in the order the checks ran."""

    results: list[CheckResult] = field(default_factory=list)
    driver: str = ""
    quick: bool = False

    @property
    def passed(self) -> int:
        """Number of checks that passed."""
        return sum(result.passed for result in self.results)

    @property
    def failed(self) -> int:
        """Number of checks that failed."""
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return self.failed == 0

    @property
    def seconds(self) -> float:
        """Time spent in the checks, in total."""
        return sum(result.seconds for result in self.results)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: driver, quick, ok, passed, failed, seconds and every result."""
        return {
            "driver": self.driver,
            "quick": self.quick,
            "ok": self.ok,
            "passed": self.passed,
            "failed": self.failed,
            "seconds": round(self.seconds, 6),
            "results": [result.to_dict() for result in self.results],
        }


def matches(name: str, pattern: str) -> bool:
    """True when check ``name`` is selected by ``pattern``: fnmatch when it has a wildcard (``*?[``), else substring."""
    if any(character in pattern for character in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def select_checks(select: str | None) -> list[Check]:
    """The checks ``select`` picks (all when None); raises ValueError when it picks none."""
    if select is None:
        return list(CHECKS)
    chosen = [check for check in CHECKS if matches(check.name, select)]
    if not chosen:
        raise ValueError(f"no conformance check matches {select!r}")
    return chosen


def describe_failure(error: BaseException) -> str:
    """One-paragraph text for a failed check: the failure message, or the unexpected error and where it came from.

    For an unexpected error, the place is the deepest frame (in the driver, usually) and the check's own line that
    led there.
    """
    if isinstance(error, ConformanceFailure):
        return str(error)
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return f"unexpected {describe_error(error)}"
    deepest = frames[-1]
    where = f"raised at {deepest.filename}:{deepest.lineno} in {deepest.name}"
    checks = [frame for frame in frames if Path(frame.filename).parent == _PACKAGE and frame is not deepest]
    if checks:
        where += f", from {Path(checks[-1].filename).name}:{checks[-1].lineno} in {checks[-1].name}"
    return f"unexpected {describe_error(error)} ({where})"


def sweep(driver: StorageDriver) -> str | None:
    """Delete whatever is left at the top of the store; return a failure message naming it, or None when empty.

    Never raises: a failing ``list("/")`` or ``delete`` is described in the message.
    """
    try:
        leftovers = driver.list("/")
    except Exception as error:
        return f'list("/") after the check raised {describe_error(error)}'
    if not leftovers:
        return None
    message = f'list("/") after the check: expected [], got {shorten(leftovers)}; the leftovers were deleted'
    for path in leftovers:
        try:
            driver.delete(path)
        except Exception as error:
            message += f"; delete({path!r}) raised {describe_error(error)}"
    return message


def run_check(driver: StorageDriver, check: Check, options: ConformanceOptions) -> CheckResult:
    """Run one check, then make sure the store is empty again; never raises for what the driver did."""
    start = time.perf_counter()
    error: str | None = None
    try:
        check.run(driver, options)
    except Exception as raised:
        error = describe_failure(raised)
    leftover = sweep(driver)
    if leftover is not None:
        error = leftover if error is None else f"{error}; {leftover}"
    return CheckResult(check.name, error is None, time.perf_counter() - start, error)


def has_exited(driver: StorageDriver) -> bool:
    """True when ``driver`` is an out-of-process driver whose process is gone (its calls raise DriverExitedError)."""
    try:
        driver.list("/")
    except DriverExitedError:
        return True
    except Exception:
        return False
    return False


def _preflight(driver: StorageDriver) -> str | None:
    try:
        present = driver.list("/")
    except Exception as error:
        return f'list("/") before the first check raised {describe_failure(error)}'
    if present:
        return (
            f'the store must be empty before the checks run: list("/") returned {shorten(present)}; '
            "the checks delete whatever is left after each of them, so they never run on a store that holds data"
        )
    return None


def run_conformance(
    driver_or_factory: StorageDriver | Callable[[], StorageDriver],
    *,
    select: str | None = None,
    quick: bool = False,
    on_result: Callable[[CheckResult], None] | None = None,
) -> ConformanceReport:
    """Run the conformance checks against a driver and return the report.

    ``driver_or_factory`` is a driver, used as it is and left open, or a callable that makes one: it is called once
    (what it raises propagates) and the driver it made is closed at the end. ``select`` picks checks by name: a
    substring, or an fnmatch pattern when it holds ``*``, ``?`` or ``[`` (ValueError when it picks none). ``quick``
    shrinks the large sizes for smoke runs. ``on_result`` is called with each result as soon as it is known.

    The store must be empty at the start (see the module docstring). A check never hangs on a broken driver by its
    own doing: its reads are bounded and its threads have deadlines; a driver call that never returns blocks the run.
    """
    checks = select_checks(select)
    options = ConformanceOptions(quick=quick)
    owned = not isinstance(driver_or_factory, StorageDriver)
    driver = driver_or_factory if isinstance(driver_or_factory, StorageDriver) else driver_or_factory()
    report = ConformanceReport(driver=getattr(driver, "name", type(driver).__name__), quick=quick)

    def record(result: CheckResult) -> None:
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    try:
        problem = _preflight(driver)
        if problem is not None:
            record(CheckResult(PREFLIGHT, False, 0.0, problem))
            return report
        for check in checks:
            result = run_check(driver, check, options)
            if not isinstance(driver_or_factory, StorageDriver) and not result.passed and has_exited(driver):
                driver.close()
                driver = driver_or_factory()
                leftover = sweep(driver)
                note = "the driver exited; a new one was made for the next checks"
                result = replace(result, error=f"{result.error}; {note}" + (f"; {leftover}" if leftover else ""))
            record(result)
    finally:
        if owned:
            driver.close()
    return report
