"""Progress bars: drawn on stderr when it is a terminal (checked under a pseudo-terminal), absent piped or quiet."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from registry_storage.cli.progress import Progress

TIMEOUT = 120.0
FILES = {"a/one": 3 << 20, "b/two": 2 << 20, "c/three": 1 << 20}
RATE = "8M"  # about 0.75 s for the 6 MiB above: the bars get redrawn along the way


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A filesystem store root holding three files of a few MiB."""
    root = tmp_path / "source"
    for name, size in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(os.urandom(size))
    return root


def _sync_command(console_script: str, source: Path, destination: Path, *extra: str) -> list[str]:
    return [
        console_script,
        "sync",
        "--driver",
        "filesystem",
        "--from-param",
        f"rootdirectory={source}",
        "--to-param",
        f"rootdirectory={destination}",
        "--limit-rate",
        RATE,
        "--jobs",
        "2",
        *extra,
        "/",
        "/",
    ]


def _run_with_terminal_stderr(command: list[str], columns: int = 0) -> tuple[int, bytes, str]:
    """Run ``command`` with stderr on a pseudo-terminal and stdout on a pipe; returns status, stdout, terminal text.

    ``columns`` sets the terminal's width (0: a terminal that reports no size).
    """
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40 if columns else 0, columns, 0, 0))
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    seen = bytearray()
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:  # the terminal closed: every writer has exited
                    break
                if not data:
                    break
                seen += data
            elif process.poll() is not None:
                break
        assert process.stdout is not None
        stdout = process.stdout.read()
        status = process.wait(TIMEOUT)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    return status, stdout, seen.decode(errors="replace")


def test_sync_on_a_terminal_draws_overall_and_per_file_bars(console_script: str, source: Path, tmp_path: Path) -> None:
    command = _sync_command(console_script, source, tmp_path / "dst")
    status, stdout, terminal = _run_with_terminal_stderr(command, columns=120)
    assert status == 0, terminal
    assert stdout.decode().startswith("sync: copied 3 files, 6.0 MiB in ")
    assert "3 files" in terminal  # the overall bar
    assert "3/3 files" in terminal
    for name in FILES:
        assert f"/{name}" in terminal  # a bar per file
    assert "B/s" in terminal  # rate
    assert "<" in terminal  # elapsed<remaining: the ETA
    assert "\r" in terminal
    assert "6.00M/6.00M" in terminal


def test_get_on_a_terminal_without_a_size_draws_one_bar(console_script: str, source: Path, tmp_path: Path) -> None:
    target = tmp_path / "got"
    command = [console_script, "get", "--driver", "filesystem", "--param", f"rootdirectory={source}", "/a/one"]
    status, _, terminal = _run_with_terminal_stderr([*command, str(target)])
    assert status == 0, terminal
    assert "/a/one" in terminal
    assert "3.00M/3.00M" in terminal
    assert target.read_bytes() == (source / "a" / "one").read_bytes()


def test_quiet_draws_nothing_even_on_a_terminal(console_script: str, source: Path, tmp_path: Path) -> None:
    status, stdout, terminal = _run_with_terminal_stderr(
        _sync_command(console_script, source, tmp_path / "dst", "--quiet")
    )
    assert (status, stdout, terminal) == (0, b"", "")


def test_piped_stderr_gets_no_progress(console_script: str, source: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        _sync_command(console_script, source, tmp_path / "dst"), capture_output=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert done.stdout.decode().startswith("sync: copied 3 files")
    assert b"\r" not in done.stdout


def test_a_disabled_progress_makes_bars_that_draw_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress(False).bar("/a", 10) as bar:
        assert list(bar.track([b"12345", b"67890"])) == [b"12345", b"67890"]
        bar.note("1/1 files")
    assert capsys.readouterr() == ("", "")
    assert not Progress.for_terminal(quiet=False).enabled  # pytest's captured stderr is no terminal
