"""Sequential calls slower than the host's relief delay: the reading moves between threads, never to two at once."""

from __future__ import annotations

import stat
import sys
import threading
from pathlib import Path

from registry_storage.client import launch

HERE = Path(__file__).parent
CALLS = 400


def _executable(directory: Path) -> str:
    path = directory / "registry-storage-slow"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "slow_driver.py"}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_sequential_slow_calls_are_all_answered(tmp_path: Path) -> None:
    with launch(_executable(tmp_path), "slow", {"delay": 0.003}, timeout=30) as driver:
        driver.put_content("/a", b"x")
        sizes = [driver.stat("/a").size for _ in range(CALLS)]
        assert sizes == [1] * CALLS
        assert driver.list("/") == ["/a"]
        driver.delete("/a")


def test_slow_calls_from_threads_and_fast_calls_interleave(tmp_path: Path) -> None:
    with launch(_executable(tmp_path), "slow", {"delay": 0.003}, timeout=30) as driver:
        driver.put_content("/a", b"xy")
        failures: list[BaseException] = []

        def slow_calls() -> None:
            try:
                for _ in range(CALLS // 4):
                    assert driver.stat("/a").size == 2
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=slow_calls) for _ in range(2)]
        for thread in threads:
            thread.start()
        for _ in range(CALLS // 2):
            assert driver.get_content("/a") == b"xy"
        for thread in threads:
            thread.join()
        assert failures == []
        driver.delete("/a")
