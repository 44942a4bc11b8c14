"""A driver that stops reading never hangs its caller: sends have deadlines, close() has its stop steps' bound.

Also: a write stream that passed its deadline is cancelled and the cancel awaited, so a caller resuming at once sees
the final size; and the child keeps no descriptor of the parameters pipe.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from registry_storage.errors import DeadlineExceededError, StorageDriverError
from registry_storage.factory import find_executable

if TYPE_CHECKING:  # mypy reads the package from its folder; installed, it is registry_storage.client
    from client import ProxyDriver, launch
else:
    from registry_storage.client import ProxyDriver, launch

GATED_DRIVER = Path(__file__).with_name("gated_driver.py")
TIMEOUT = 2.0
STOP_STEP = 1.0
SLACK = 3.0
"""Seconds a thread may run past its documented bound before the test calls it hung (a busy machine is slow)."""


class Outcome:
    """Runs ``call`` on a daemon thread and keeps what it returned or raised."""

    def __init__(self, call: Callable[[], object]) -> None:
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._call = call
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._call()
        except BaseException as error:
            self.error = error
        finally:
            self.done.set()

    def finished_within(self, seconds: float) -> bool:
        return self.done.wait(seconds)


@pytest.fixture
def stopped_child() -> Iterator[ProxyDriver]:
    """An in-memory driver proxy whose child is stopped with SIGSTOP; the child is killed afterwards."""
    executable = find_executable("inmemory")
    assert executable is not None, "registry-storage-inmemory is not installed"
    proxy = launch(executable, "inmemory", {}, timeout=TIMEOUT, stop_timeout=STOP_STEP)
    pid = proxy.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield proxy
    finally:
        for signum in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                break
        proxy.close()


def test_a_big_send_a_second_call_and_close_all_return_when_the_child_is_stopped(stopped_child: ProxyDriver) -> None:
    proxy = stopped_child
    big = Outcome(lambda: proxy.put_content("/big", os.urandom(8 << 20)))
    assert not big.finished_within(0.3), "an 8 MiB send cannot fit in a pipe nobody reads"
    second = Outcome(lambda: proxy.stat("/"))
    assert big.finished_within(TIMEOUT + SLACK), "the big send ignored its deadline"
    assert isinstance(big.error, DeadlineExceededError)
    assert second.finished_within(TIMEOUT + SLACK), "a call waiting behind a stuck send ignored its deadline"
    assert isinstance(second.error, StorageDriverError)
    closing = Outcome(proxy.close)
    assert closing.finished_within(4 * STOP_STEP + SLACK), "close() did not reach SIGKILL"
    assert closing.error is None
    assert proxy.session.process.returncode is not None


def test_close_from_another_thread_during_a_stuck_send_stops_the_child(stopped_child: ProxyDriver) -> None:
    proxy = stopped_child
    big = Outcome(lambda: proxy.put_content("/big", os.urandom(8 << 20)))
    assert not big.finished_within(0.3)
    closing = Outcome(proxy.close)
    assert closing.finished_within(4 * STOP_STEP + SLACK), "close() waited for the stuck send"
    assert closing.error is None
    assert proxy.session.process.returncode == 128 + signal.SIGKILL
    assert big.finished_within(SLACK), "the stuck send outlived the child"
    assert isinstance(big.error, StorageDriverError)


def test_after_a_send_cut_off_mid_frame_the_channel_is_failed(stopped_child: ProxyDriver) -> None:
    proxy = stopped_child
    with pytest.raises(DeadlineExceededError):
        proxy.put_content("/big", os.urandom(8 << 20))
    assert not proxy.session.alive
    os.kill(proxy.pid, signal.SIGCONT)
    with pytest.raises(StorageDriverError, match="mid-frame"):
        proxy.stat("/")


def test_a_write_stream_past_its_deadline_is_settled_before_the_error_reaches_the_caller() -> None:
    with launch_gated(timeout=1.0, stop_timeout=5.0) as proxy:
        chunks = [bytes([n]) * 1000 for n in range(3)]
        timer = threading.Timer(1.5, os.kill, (proxy.pid, signal.SIGUSR1))
        timer.start()
        try:
            with pytest.raises(DeadlineExceededError):
                proxy.write_stream("/gated/file", 0, iter(chunks))
            size_at_once = len(proxy.get_content("/gated/file"))  # get_content is not gated; stat is
        finally:
            timer.cancel()
        os.kill(proxy.pid, signal.SIGUSR1)
        proxy.ping()
        assert proxy.stat("/gated/file").size == size_at_once
        assert proxy.get_content("/gated/file") == b"".join(chunks)[:size_at_once]


def launch_gated(*, timeout: float, stop_timeout: float) -> ProxyDriver:
    """The gated driver (tests/protocol/gated_driver.py) through a tiny executable script."""
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"registry-storage-gated-{os.getpid()}"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{GATED_DRIVER}" "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return launch(str(script), "gated", {}, timeout=timeout, stop_timeout=stop_timeout)


def test_the_child_keeps_no_descriptor_of_the_parameters_pipe(tmp_path: Path) -> None:
    executable = find_executable("filesystem")
    assert executable is not None
    parameters = {"rootdirectory": str(tmp_path / "store")}
    with launch(executable, "filesystem", parameters, secret_parameters=["rootdirectory"]) as proxy:
        proxy.ping()
        popen = proxy.session.process._popen
        pipes = [pipe for pipe in (popen.stdin, popen.stdout, popen.stderr) if pipe is not None]
        channel = {f"pipe:[{os.fstat(pipe.fileno()).st_ino}]" for pipe in pipes}
        targets = [os.readlink(f"/proc/{proxy.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proxy.pid}/fd")]
        # a pipe the child made itself shows both its ends; one it inherited besides the channel shows one
        inherited = [t for t in targets if t.startswith("pipe:") and t not in channel and targets.count(t) == 1]
        assert inherited == [], targets
