"""Answers of any size: a directory of 500,000 entries listed and walked through the proxy, memory bounded.

large_listing.py runs in its own process (so its peak resident set is this listing's alone) against large_driver.py,
whose walk makes its entries up lazily: what either process holds beyond a page is the protocol's doing. The names
are long enough that one ``list`` answer (about 25 MB) would be over the default 16 MiB message limit.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

HERE = Path(__file__).parent
ENTRIES = 500_000
NAME = "/big/file-{:07d}-" + "x" * 32

WALK_GROWTH_KIB = 32 << 10
"""A walk may grow either process by at most 32 MiB: a few pages, never the 500,000 entries (over 150 MB as
FileInfo objects, over 60 MB as one JSON answer)."""

LIST_GROWTH_KIB = 112 << 10
"""``list`` returns every path (about 53 MB of Python strings in the parent, as many in the driver): each process
may hold that and a page or two, not a second copy of the whole answer as JSON."""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    executable = tmp_path_factory.mktemp("large") / "registry-storage-large"
    executable.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "large_driver.py"}" "$@"\n', encoding="utf-8")
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    arguments = orjson.dumps({"executable": str(executable), "entries": ENTRIES}).decode()
    completed = subprocess.run(
        [sys.executable, str(HERE / "large_listing.py"), arguments],
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    result: dict[str, Any] = orjson.loads(completed.stdout)
    print(orjson.dumps(result).decode())  # the numbers, for the record (pytest -s)
    return result


@pytest.mark.parametrize("action", ["walk", "list"])
def test_every_entry_arrives_in_order(report: dict[str, Any], action: str) -> None:
    assert report["protocol"] == "1.2"
    seen = report[action]
    assert (seen["count"], seen["first"], seen["last"]) == (ENTRIES, NAME.format(0), NAME.format(ENTRIES - 1))
    assert seen["sorted"] is True


def test_a_walk_of_500000_entries_keeps_both_processes_small(report: dict[str, Any]) -> None:
    walk = report["walk"]
    assert walk["parent_peak_growth_kib"] < WALK_GROWTH_KIB, walk
    assert walk["child_peak_growth_kib"] < WALK_GROWTH_KIB, walk


def test_a_list_of_500000_entries_holds_the_result_and_not_much_more(report: dict[str, Any]) -> None:
    listed = report["list"]
    assert listed["parent_peak_growth_kib"] < LIST_GROWTH_KIB, listed
    assert listed["child_peak_growth_kib"] < LIST_GROWTH_KIB, listed
