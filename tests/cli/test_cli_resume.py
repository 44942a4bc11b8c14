"""A sync killed midway (SIGKILL) and run again completes every file from where it stopped, byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

TIMEOUT = 120.0
BIG_SIZE = 24 << 20
RATE = "8M"  # the big file takes about 3 s, so the kill lands in the middle of it
SMALL = {"a-first": 100_000, "b-second": 1}


def _tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _wait_for(condition: str, check: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting until {condition}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _settled(path: Path) -> bool:
    """True once ``path`` has kept its size for half a second (the driver child has stopped writing)."""
    before = _size(path)
    time.sleep(0.5)
    return _size(path) == before


def test_a_killed_sync_resumes_each_partial_file_to_completion(console_script: str, tmp_path: Path) -> None:
    source, destination = tmp_path / "source", tmp_path / "destination"
    (source / "blobs").mkdir(parents=True)
    for name, size in SMALL.items():
        (source / "blobs" / name).write_bytes(os.urandom(size))
    (source / "blobs" / "z-big").write_bytes(os.urandom(BIG_SIZE))
    command = [
        console_script,
        "sync",
        "--json",
        "--jobs",
        "1",
        "--from-driver",
        "filesystem",
        "--from-param",
        f"rootdirectory={source}",
        "--to-driver",
        "filesystem",
        "--to-param",
        f"rootdirectory={destination}",
        "--to-out-of-process",
        "/",
        "/",
    ]
    partial = destination / "blobs" / "z-big"
    first = subprocess.Popen([*command, "--limit-rate", RATE], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for("the big file is partly copied", lambda: 0 < _size(partial) < BIG_SIZE // 2)
        first.send_signal(signal.SIGKILL)
        assert first.wait(TIMEOUT) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        stdout, _ = first.communicate()
    assert stdout == b""
    _wait_for("the destination stops changing", lambda: _settled(partial))
    left = _size(partial)
    assert 0 < left < BIG_SIZE

    second = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert (report["copied"], report["resumed"], report["up_to_date"]) == (1, 1, len(SMALL))
    assert report["files"] == [
        {"source": "/blobs/z-big", "destination": "/blobs/z-big", "size": BIG_SIZE, "offset": left},
    ]
    assert report["bytes"] == BIG_SIZE - left
    assert report["verified"] is True
    assert _tree(destination) == _tree(source)
