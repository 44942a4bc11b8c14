"""``registry-storage check`` against good, broken, crashing and hanging drivers, through the console script."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CHECK_TIMEOUT = 600.0


def _console() -> str:
    return os.path.join(os.path.dirname(sys.executable), "registry-storage")


def _executable(directory: Path, fault: str) -> Path:
    """A driver executable (a shell wrapper around misbehaving_driver.py with this interpreter) for ``fault``."""
    path = directory / f"registry-storage-{fault or 'good'}"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "misbehaving_driver.py"}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _check(*arguments: str, timeout: float = CHECK_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_console(), "check", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _rows(stdout: str) -> dict[str, str]:
    """Check name -> PASS/FAIL from the table."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("PASS", "FAIL"):
            rows[parts[2]] = parts[0]
    return rows


def test_check_without_arguments_prints_table_summary_and_speed() -> None:
    outcome = _check("--quick")
    assert outcome.returncode == 0, outcome.stdout[-2000:] + outcome.stderr[-2000:]
    lines = outcome.stdout.splitlines()
    rows = _rows(outcome.stdout)
    assert len(rows) >= 45
    assert set(rows.values()) == {"PASS"}
    assert f"{len(rows)} passed, 0 failed" in lines
    speed = [line for line in lines if line.startswith("speed: ")]
    assert len(speed) == 1
    assert "MB/s" in speed[0]
    assert "calls/s" in speed[0]


def test_check_of_a_correct_executable_passes(tmp_path: Path) -> None:
    outcome = _check("--exec", str(_executable(tmp_path, "")), "--quick", "--no-speed")
    assert outcome.returncode == 0, outcome.stdout[-2000:] + outcome.stderr[-2000:]
    assert outcome.stdout.splitlines()[-1].endswith("passed, 0 failed")


def test_check_of_a_broken_driver_reports_the_failing_checks_and_exits_non_zero(tmp_path: Path) -> None:
    outcome = _check("--exec", str(_executable(tmp_path, "wrong")), "--params", '{"fault": "wrong"}', "--quick")
    assert outcome.returncode == 1
    rows = _rows(outcome.stdout)
    failed = {name for name, verdict in rows.items() if verdict == "FAIL"}
    assert "list_returns_the_direct_children_sorted" in failed
    assert "stat_of_a_file_reports_its_path_size_and_is_dir_false" in failed
    assert "put_content_then_get_content_returns_a_single_byte" in failed
    assert "stat_of_root_reports_a_directory" not in failed
    passed = len(rows) - len(failed)
    assert outcome.stdout.splitlines()[-1] == f"{passed} passed, {len(failed)} failed"
    assert not any(line.startswith("speed: ") for line in outcome.stdout.splitlines())


def test_check_json_report_lists_every_result(tmp_path: Path) -> None:
    outcome = _check(
        "--exec", str(_executable(tmp_path, "wrong")), "--params", '{"fault": "wrong"}', "--json", "-k", "list_"
    )
    assert outcome.returncode == 1
    report = json.loads(outcome.stdout)
    names = {result["name"]: result for result in report["results"]}
    assert names["list_returns_the_direct_children_sorted"]["passed"] is False
    assert names["list_returns_the_direct_children_sorted"]["error"]
    assert report["failed"] == sum(not result["passed"] for result in report["results"])
    assert all("list_" in name for name in names)


def test_check_of_a_crashing_driver_reports_it_and_finishes(tmp_path: Path) -> None:
    outcome = _check(
        "--exec", str(_executable(tmp_path, "crash")), "--params", '{"fault": "crash"}', "--quick", "-k", "stat_"
    )
    assert outcome.returncode == 1
    assert "exited with status 9" in outcome.stdout
    rows = _rows(outcome.stdout)
    assert rows["stat_of_a_file_reports_its_path_size_and_is_dir_false"] == "FAIL"
    assert rows["stat_of_root_reports_a_directory"] == "PASS"


def test_check_of_a_hanging_driver_reports_it_and_does_not_hang(tmp_path: Path) -> None:
    outcome = _check(
        "--exec",
        str(_executable(tmp_path, "hang")),
        "--params",
        '{"fault": "hang"}',
        "--quick",
        "--timeout",
        "2",
        timeout=120,
    )
    assert outcome.returncode == 1
    assert "DeadlineExceededError" in outcome.stdout
    assert "not run: the driver stopped answering" in outcome.stdout
    summary = outcome.stdout.splitlines()[-1]
    assert summary.endswith("failed")
    assert not summary.endswith(" 0 failed")


@pytest.mark.parametrize("arguments", [["--timeout", "0"], ["--driver", "filesystem", "--exec", "/bin/true"]])
def test_check_usage_errors_exit_2_with_one_line(arguments: list[str]) -> None:
    outcome = _check(*arguments)
    assert outcome.returncode == 2
    assert outcome.stderr.startswith("registry-storage: ")
    assert len(outcome.stderr.strip().splitlines()) == 1
