"""Process-level care for a driver executable: a clean stdout, log lines, signals and the parent's death.

- :func:`protect_stdio` moves the protocol to private file descriptors and points fd 1 at stderr (and fd 0 at
  ``/dev/null``), so a stray ``print`` (Python or C) lands in the log instead of corrupting a frame, and a child
  process the driver starts cannot read the client's frames.
- :func:`configure_logging` writes ``LEVEL logger: message`` lines to stderr (protocol.md section 11), one prefix on
  every line, tracebacks included.
- :class:`Watchdog` ends the session on SIGTERM or SIGINT and when the parent process dies (Linux parent-death signal
  plus polling ``os.getppid()`` twice a second), and exits hard if the graceful end takes too long.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

_PR_SET_PDEATHSIG = 1


class LineFormatter(logging.Formatter):
    """``LEVEL logger: message`` on every line of a record, so a multi-line message keeps its level."""

    def __init__(self) -> None:
        super().__init__("%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"{record.levelname} {record.name}: "
        return "\n".join(prefix + line for line in (super().format(record).splitlines() or [""]))


def configure_logging(level: int = logging.INFO) -> None:
    """Send log records to stderr as ``LEVEL logger: message``; does nothing when logging is configured already.

    registry-storage's own loggers log from ``level``; libraries (cloud SDKs log every HTTP request at INFO) from
    WARNING.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))
    logging.getLogger("registry_storage").setLevel(level)


def protect_stdio() -> tuple[int, int]:
    """Move the protocol off fds 0 and 1; returns the private ``(input_fd, output_fd)`` to serve on.

    Afterwards fd 1 is a copy of stderr (``/dev/null`` when there is none), ``sys.stdout`` a line-buffered writer on
    it, and fd 0 is ``/dev/null``. The private fds are not inherited by child processes.
    """
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    protocol_in = os.dup(0)
    protocol_out = os.dup(1)
    try:
        os.dup2(2, 1)
    except OSError:
        _point_at_devnull(1, os.O_WRONLY)
    _point_at_devnull(0, os.O_RDONLY)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    return protocol_in, protocol_out


def _point_at_devnull(fd: int, flags: int) -> None:
    null = os.open(os.devnull, flags)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def set_parent_death_signal(signum: int = signal.SIGTERM) -> bool:
    """Ask Linux to send ``signum`` when the parent dies (prctl PR_SET_PDEATHSIG); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


class Watchdog:
    """Calls ``stop(status)`` once: on SIGTERM or SIGINT (status 128 + signal) or when the parent process dies
    (status 143, as if it had sent SIGTERM). If the process still runs ``hard_exit_after`` seconds later, it exits
    at once with that status.

    Signals are caught only when started from the main thread (Python's rule); the parent is watched from anywhere.
    The handlers do nothing but wake the watchdog thread through a pipe, so they never take a lock.
    """

    def __init__(self, stop: Callable[[int], None], *, hard_exit_after: float = 5.0, interval: float = 0.5) -> None:
        self._stop = stop
        self._hard_exit_after = hard_exit_after
        self._interval = interval
        self._parent = os.getppid()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._previous: dict[int, object] = {}
        self._previous_wakeup_fd: int | None = None
        self._closed = threading.Event()

    def start(self) -> None:
        """Install the signal handlers (main thread only), the parent-death signal, and start watching."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, _wake_only)
            self._previous_wakeup_fd = signal.set_wakeup_fd(self._wake_write)
        set_parent_death_signal(signal.SIGTERM)
        if os.getppid() != self._parent:  # the parent died before the signal was armed
            self._parent = -1
        threading.Thread(target=self._watch, name="registry-storage-watchdog", daemon=True).start()

    def close(self) -> None:
        """Stop watching and restore the signal handlers (main thread only)."""
        self._closed.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")
        if threading.current_thread() is threading.main_thread() and self._previous_wakeup_fd is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)  # type: ignore[arg-type]

    def _watch(self) -> None:
        poller = select.poll()
        poller.register(self._wake_read, select.POLLIN)
        while not self._closed.is_set():
            status = None
            if poller.poll(self._interval * 1000):
                received = os.read(self._wake_read, 64)
                signals = [byte for byte in received if byte in (signal.SIGTERM, signal.SIGINT)]
                if signals:
                    status = 128 + signals[0]
                    logging.getLogger("registry_storage.host").info("signal %d received; stopping", signals[0])
            elif os.getppid() != self._parent:
                status = 128 + signal.SIGTERM
                logging.getLogger("registry_storage.host").warning("the parent process is gone; stopping")
            if status is not None and not self._closed.is_set():
                self._stop(status)
                if not self._closed.wait(self._hard_exit_after):
                    terminate(status)
                return


def _wake_only(signum: int, frame: object) -> None:
    """A signal handler that lets ``signal.set_wakeup_fd`` wake the watchdog and does nothing else."""


def terminate(status: int) -> NoReturn:
    """Flush stdout, stderr and the log, then end the process with ``status`` without waiting for other threads."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        logging.shutdown()
    os._exit(status)


__all__ = [
    "LineFormatter",
    "Watchdog",
    "configure_logging",
    "protect_stdio",
    "set_parent_death_signal",
    "terminate",
]
