"""The conformance runner, suite and pytest plugin, proved against a small dict driver and broken variants of it."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from registry_storage import factory
from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import DriverExitedError, PathConflictError, PathNotFoundError
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.paths import ROOT, ancestors, directory_prefix, join
from registry_storage.testing import (
    CHECKS,
    CheckResult,
    ConformanceFailure,
    ConformanceOptions,
    ConformanceReport,
    ConformanceSuite,
    run_conformance,
)
from registry_storage.testing.expectations import expect_bytes
from registry_storage.testing.runner import PREFLIGHT

MIB = 1 << 20


class DictDriver(StorageDriver):
    """A small, correct driver keeping files in a dict: the reference the checks must accept."""

    name = "dict"

    def __init__(self) -> None:
        self._files: dict[str, bytearray] = {}
        self._times: dict[str, datetime] = {}
        self._lock = threading.RLock()
        self.closed = False

    def _has_below(self, path: str) -> bool:
        prefix = directory_prefix(path)
        return any(key.startswith(prefix) for key in self._files)

    def _check_writable(self, path: str) -> None:
        if self._has_below(path):
            raise PathConflictError(path, "a directory is in the way")
        for ancestor in ancestors(path):
            if ancestor in self._files:
                raise PathConflictError(ancestor, "a file is in the way")

    def _store(self, path: str, content: bytearray) -> None:
        self._files[path] = content
        self._times[path] = datetime.now(timezone.utc)

    def _get_content(self, path: str) -> bytes:
        with self._lock:
            if path not in self._files:
                raise PathNotFoundError(path)
            return bytes(self._files[path])

    def _put_content(self, path: str, content: bytes) -> None:
        with self._lock:
            self._check_writable(path)
            self._store(path, bytearray(content))

    def _read_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        return io.BytesIO(self._get_content(path)[offset:])

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        with self._lock:
            self._check_writable(path)
            content = self._files.get(path, bytearray())[:offset]
            content.extend(bytes(offset - len(content)))
            self._store(path, content)
        written = 0
        for chunk in chunks:
            with self._lock:
                content.extend(chunk)
                self._times[path] = datetime.now(timezone.utc)
            written += len(chunk)
        return written

    def _stat(self, path: str) -> FileInfo:
        with self._lock:
            if path in self._files:
                return FileInfo(path, len(self._files[path]), self._times[path], False)
            if path == ROOT or self._has_below(path):
                return FileInfo(path, 0, EPOCH, True)
        raise PathNotFoundError(path)

    def _list(self, path: str) -> PathList:
        prefix = directory_prefix(path)
        with self._lock:
            names = {key[len(prefix) :].split("/")[0] for key in self._files if key.startswith(prefix)}
        if not names and path != ROOT:
            raise PathNotFoundError(path)
        return sorted(join(path, name) for name in names)

    def _move(self, source: str, destination: str) -> None:
        with self._lock:
            if source not in self._files:
                if self._has_below(source):
                    raise PathConflictError(source, "cannot move a directory")
                raise PathNotFoundError(source)
            self._check_writable(destination)
            if source == destination:
                return
            self._store(destination, self._files.pop(source))
            del self._times[source]

    def _delete(self, path: str) -> None:
        with self._lock:
            doomed = [key for key in self._files if key == path or key.startswith(directory_prefix(path))]
            if not doomed:
                raise PathNotFoundError(path)
            for key in doomed:
                del self._files[key]
                del self._times[key]

    def close(self) -> None:
        self.closed = True


class OffsetIgnoringDriver(DictDriver):
    """Broken: read_stream always starts at the beginning."""

    def _read_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        return io.BytesIO(self._get_content(path))


class ExplodingUrlDriver(DictDriver):
    """Broken: url_for raises an error outside the error tree."""

    def _url_for(self, path: str, **options: object) -> str:
        raise RuntimeError("url machinery exploded")


class StrayMoveDriver(DictDriver):
    """Broken: move drops the destination's directories and writes it at the top of the store."""

    def _move(self, source: str, destination: str) -> None:
        super()._move(source, "/stray-" + destination.rsplit("/", 1)[1])


class CrashingDriver(DictDriver):
    """Broken: its first move anywhere kills it, like a driver process dying; later instances work."""

    crashes_left = 0

    def __init__(self) -> None:
        super().__init__()
        self.exited = False

    def _move(self, source: str, destination: str) -> None:
        if type(self).crashes_left:
            type(self).crashes_left -= 1
            self.exited = True
        self._raise_when_exited()
        super()._move(source, destination)

    def _raise_when_exited(self) -> None:
        if self.exited:
            raise DriverExitedError(1, "crashed on purpose")

    def _list(self, path: str) -> PathList:
        self._raise_when_exited()
        return super()._list(path)

    def _delete(self, path: str) -> None:
        self._raise_when_exited()
        super()._delete(path)


class PlaceholderStatDriver(DictDriver):
    """Broken like an object store whose stat ignores folder placeholders: a directory holding only directories
    is listed by its parent but stat refuses it."""

    def _stat(self, path: str) -> FileInfo:
        info = super()._stat(path)
        if info.is_dir and path != ROOT and not any(child in self._files for child in self._list(path)):
            raise PathNotFoundError(path)
        return info


class SizeRecordingDriver(DictDriver):
    """Correct, and remembers the largest content put_content stored."""

    largest = 0

    def _put_content(self, path: str, content: bytes) -> None:
        type(self).largest = max(type(self).largest, len(content))
        super()._put_content(path, content)


def results_by_name(report: ConformanceReport) -> dict[str, CheckResult]:
    return {result.name: result for result in report.results}


# -- the checks themselves ---------------------------------------------------------------------------------------


def test_checks_have_unique_descriptive_names_and_descriptions() -> None:
    names = [check.name for check in CHECKS]
    assert len(names) == len(set(names))
    assert len(names) >= 45
    for check in CHECKS:
        assert re.fullmatch(r"[a-z0-9_]+", check.name), check.name
        assert check.description, f"{check.name} has no description"


def test_every_check_passes_against_a_correct_driver() -> None:
    report = run_conformance(DictDriver(), quick=True)
    failures = {result.name: result.error for result in report.results if not result.passed}
    assert failures == {}
    assert report.passed == len(CHECKS)
    assert report.ok


def test_a_check_passes_and_leaves_nothing_behind() -> None:
    driver = DictDriver()
    check = next(check for check in CHECKS if check.name == "move_overwrites_an_existing_destination")
    check.run(driver, ConformanceOptions(quick=True))
    assert driver.list("/") == []


# -- failures are reported with names and errors, and the run goes on --------------------------------------------


def test_failures_name_the_check_and_say_what_came_back() -> None:
    report = run_conformance(OffsetIgnoringDriver(), select="read_stream", quick=True)
    results = results_by_name(report)
    assert len(results) == len([check for check in CHECKS if "read_stream" in check.name])
    failed = results["read_stream_from_chunk_boundaries_returns_the_rest"]
    assert not failed.passed
    assert failed.error is not None
    assert "read_stream(" in failed.error
    assert "expected" in failed.error
    assert "got" in failed.error
    assert not results["read_stream_at_the_size_is_at_eof_at_once"].passed
    assert results["read_stream_at_negative_offset_raises_invalid_offset"].passed
    assert report.failed >= 4
    assert not report.ok


def test_a_listed_child_that_stat_refuses_fails_the_check() -> None:
    select = "every_listed_child_can_be_stated"
    assert run_conformance(DictDriver(), select=select, quick=True).ok
    report = run_conformance(PlaceholderStatDriver(), select=select, quick=True)
    (result,) = report.results
    assert not result.passed
    assert result.error is not None
    assert "stat(" in result.error
    assert "PathNotFoundError" in result.error


def test_an_unexpected_exception_is_recorded_and_the_run_continues() -> None:
    seen: list[str] = []
    report = run_conformance(ExplodingUrlDriver(), select="url_for", on_result=lambda result: seen.append(result.name))
    results = results_by_name(report)
    assert seen == [result.name for result in report.results]
    exploded = results["url_for_returns_a_url_or_raises_unsupported_method"]
    assert not exploded.passed
    assert exploded.error is not None
    assert "RuntimeError" in exploded.error
    assert "url machinery exploded" in exploded.error
    assert results["url_for_gives_a_url_that_serves_the_content"].passed is False
    assert len(report.results) == len([check for check in CHECKS if "url_for" in check.name])


def test_leftovers_fail_the_check_and_are_deleted_before_the_next_one() -> None:
    driver = StrayMoveDriver()
    report = run_conformance(driver, select="move_relocates_a_file_and_creates_parents")
    [result] = report.results
    assert not result.passed
    assert result.error is not None
    assert "/stray-file" in result.error
    assert "leftovers were deleted" in result.error
    assert driver.list("/") == []
    later = run_conformance(driver, select="move_overwrites_an_existing_destination")
    assert not later.ok  # the stray destination is still wrong, but the store was clean when it started
    assert PREFLIGHT not in results_by_name(later)


def test_a_store_holding_data_is_refused_and_left_untouched() -> None:
    driver = DictDriver()
    driver.put_content("/precious", b"keep me")
    report = run_conformance(driver, select="delete")
    assert [result.name for result in report.results] == [PREFLIGHT]
    assert not report.ok
    assert report.results[0].error is not None
    assert "/precious" in report.results[0].error
    assert driver.get_content("/precious") == b"keep me"


def test_a_factory_is_called_once_and_its_driver_closed() -> None:
    made: list[DictDriver] = []

    def make() -> DictDriver:
        made.append(DictDriver())
        return made[-1]

    report = run_conformance(make, select="stat_of_")
    assert report.ok
    assert report.passed == len([check for check in CHECKS if "stat_of_" in check.name])
    assert len(made) == 1
    assert made[0].closed


def test_a_driver_that_exits_fails_one_check_and_is_made_again() -> None:
    made: list[CrashingDriver] = []

    def make() -> CrashingDriver:
        made.append(CrashingDriver())
        return made[-1]

    CrashingDriver.crashes_left = 1
    report = run_conformance(make, select="move_")
    first, *others = report.results
    assert not first.passed
    assert first.error is not None
    assert "DriverExitedError" in first.error
    assert "a new one was made" in first.error
    assert others
    assert all(result.passed for result in others)
    assert len(made) == 2
    assert all(driver.closed for driver in made)


def test_a_given_driver_is_left_open() -> None:
    driver = DictDriver()
    run_conformance(driver, select="list_of_a_file_raises_path_not_found")
    assert not driver.closed


# -- select, quick, report ---------------------------------------------------------------------------------------


def test_select_takes_a_substring_or_a_glob() -> None:
    by_substring = run_conformance(DictDriver(), select="walk_of")
    assert {result.name for result in by_substring.results} == {
        check.name for check in CHECKS if "walk_of" in check.name
    }
    by_glob = run_conformance(DictDriver(), select="move_*_changes_nothing")
    assert [result.name for result in by_glob.results] == [
        "move_of_a_directory_raises_path_conflict_and_changes_nothing",
        "move_onto_a_directory_raises_path_conflict_and_changes_nothing",
        "move_below_a_file_raises_path_conflict_and_changes_nothing",
    ]
    with pytest.raises(ValueError, match="no conformance check matches"):
        run_conformance(DictDriver(), select="no_such_check")


@pytest.mark.parametrize(("quick", "expected"), [(True, 4 * MIB), (False, 64 * MIB)])
def test_quick_shrinks_the_large_sizes(quick: bool, expected: int) -> None:
    SizeRecordingDriver.largest = 0
    report = run_conformance(
        SizeRecordingDriver(), select="large_object_round_trips_through_put_content_and_get_content", quick=quick
    )
    assert report.ok
    assert report.quick is quick
    assert SizeRecordingDriver.largest == expected


def test_quick_options_are_smaller_than_the_full_ones() -> None:
    quick, full = ConformanceOptions(quick=True), ConformanceOptions()
    assert (full.large_size, full.concurrent_read_size, full.concurrent_write_max, full.append_chunk) == (
        64 * MIB,
        32 * MIB,
        16 * MIB,
        10 * MIB,
    )
    assert quick.large_size < full.large_size
    assert quick.concurrent_read_size < full.concurrent_read_size
    assert quick.concurrent_write_max < full.concurrent_write_max
    assert quick.append_chunk < full.append_chunk


def test_report_to_dict_is_json_serialisable() -> None:
    report = run_conformance(OffsetIgnoringDriver(), select="read_stream_at_the", quick=True)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["driver"] == "dict"
    assert data["quick"] is True
    assert data["ok"] is False
    assert data["passed"] == report.passed
    assert data["failed"] == report.failed
    assert [entry["name"] for entry in data["results"]] == [result.name for result in report.results]
    assert all(set(entry) == {"name", "passed", "seconds", "error"} for entry in data["results"])
    assert any(entry["error"] for entry in data["results"])


def test_byte_mismatches_are_described_briefly() -> None:
    expected = bytes(8 * MIB)
    actual = bytearray(expected)
    actual[5 * MIB + 3] = 1
    with pytest.raises(ConformanceFailure) as caught:
        expect_bytes(bytes(actual), expected, "content")
    message = str(caught.value)
    assert len(message) < 300
    assert f"first difference at byte {5 * MIB + 3}" in message
    assert "sha256" in message


# -- ConformanceSuite and the pytest plugin ----------------------------------------------------------------------


class TestDictDriverConformanceSuite(ConformanceSuite):
    """The suite class itself, on the dict driver, in quick mode."""

    @pytest.fixture
    def storage_driver(self) -> DictDriver:
        return DictDriver()

    @pytest.fixture
    def conformance_options(self) -> ConformanceOptions:
        return ConformanceOptions(quick=True)


class Outcomes:
    """A pytest plugin object recording the outcome of each test's call phase."""

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.outcomes[report.nodeid.rsplit("::", 1)[1]] = report.outcome


def run_pytest(tmp_path: Path, *args: str) -> tuple[int, dict[str, str]]:
    """Run a nested pytest session in ``tmp_path`` with ``args``; return the exit code and each test's outcome."""
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\n")
    outcomes = Outcomes()
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-c", str(ini), "--rootdir", str(tmp_path), *args], [outcomes])
    return int(code), outcomes.outcomes


def make_driver(cls: type[DictDriver], parameters: Mapping[str, Any]) -> DictDriver:
    return cls()


@pytest.fixture
def registered() -> Iterator[str]:
    """Register the dict driver and its broken variants with the factory for one test."""
    names = {"conformance-dict": DictDriver, "conformance-offset-ignoring": OffsetIgnoringDriver}
    names["conformance-size-recording"] = SizeRecordingDriver
    names["conformance-crashing"] = CrashingDriver
    for name, cls in names.items():
        factory.register(name, partial(make_driver, cls))
    yield "conformance-dict"
    for name in names:
        factory.unregister(name)


def test_plugin_runs_the_checks_against_the_named_driver(tmp_path: Path, registered: str) -> None:
    code, outcomes = run_pytest(
        tmp_path, "--registry-storage-driver", registered, "--registry-storage-quick", "-k", "stat_of or walk_of"
    )
    expected = {check.name for check in CHECKS if "stat_of" in check.name or "walk_of" in check.name}
    assert code == 0
    assert outcomes == {f"test_check[{name}]": "passed" for name in expected}


def test_plugin_reports_the_checks_a_broken_driver_fails(tmp_path: Path, registered: str) -> None:
    code, outcomes = run_pytest(
        tmp_path, "--registry-storage-driver", "conformance-offset-ignoring", "-k", "read_stream_at_the"
    )
    assert code == 1
    assert outcomes == {
        "test_check[read_stream_at_the_last_byte_returns_one_byte]": "failed",
        "test_check[read_stream_at_the_size_is_at_eof_at_once]": "failed",
    }


def test_plugin_makes_a_driver_again_after_it_exited(tmp_path: Path, registered: str) -> None:
    CrashingDriver.crashes_left = 1
    code, outcomes = run_pytest(tmp_path, "--registry-storage-driver", "conformance-crashing", "-k", "move_")
    assert code == 1
    failed = [name for name, outcome in outcomes.items() if outcome != "passed"]
    assert failed == ["test_check[move_relocates_a_file_and_creates_parents]"]
    assert len(outcomes) == len([check for check in CHECKS if "move_" in check.name])


def test_plugin_quick_option_reaches_the_checks(tmp_path: Path, registered: str) -> None:
    SizeRecordingDriver.largest = 0
    selection = ("-k", "large_object_round_trips_through_put_content")
    code, _ = run_pytest(
        tmp_path, "--registry-storage-driver", "conformance-size-recording", "--registry-storage-quick", *selection
    )
    assert code == 0
    assert SizeRecordingDriver.largest == 4 * MIB


def test_plugin_rejects_parameters_that_are_not_a_json_object(tmp_path: Path, registered: str) -> None:
    code, outcomes = run_pytest(tmp_path, "--registry-storage-driver", registered, "--registry-storage-params", "[1]")
    assert code == pytest.ExitCode.USAGE_ERROR
    assert outcomes == {}


def test_plugin_does_nothing_without_a_driver(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    code, outcomes = run_pytest(tmp_path, str(tmp_path / "test_plain.py"))
    assert code == 0
    assert outcomes == {"test_plain": "passed"}
