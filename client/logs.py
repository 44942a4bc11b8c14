"""The driver's stderr: forwarded line by line to Python logging, with the last lines kept to explain an exit.

A driver writes ``LEVEL logger: message`` lines (protocol.md section 11). Each goes to the logger
``registry_storage.driver.<name>`` at that level; a line without a level prefix, most likely a stray print, is logged
at WARNING.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import IO

TAIL_LINES = 50
"""How many of the last stderr lines are kept for DriverExitedError."""

MAX_LINE_CHARS = 4000
"""Longer lines are cut in the tail (the log gets them whole)."""

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def logger_name(driver: str) -> str:
    """The Python logger a driver's stderr goes to."""
    return f"registry_storage.driver.{driver}"


def parse_line(line: str) -> tuple[int, str]:
    """``(level, text)`` of one stderr line: the level of its ``LEVEL`` prefix and the rest, or WARNING and the line."""
    head, space, rest = line.partition(" ")
    level = _LEVELS.get(head) if space else None
    if level is None:
        return logging.WARNING, line
    return level, rest


class StderrPump:
    """Reads a driver's stderr on its own thread until end of file, logging each line and keeping the tail."""

    def __init__(self, stream: IO[bytes], driver: str, keep: int = TAIL_LINES) -> None:
        self._stream = stream
        self._logger = logging.getLogger(logger_name(driver))
        self._tail: deque[str] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"registry-storage-{driver}-stderr", daemon=True)

    def start(self) -> None:
        """Start pumping."""
        self._thread.start()

    def _run(self) -> None:
        try:
            for raw in iter(self._stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self._lock:
                    self._tail.append(line[:MAX_LINE_CHARS])
                level, text = parse_line(line)
                self._logger.log(level, "%s", text)
        except (OSError, ValueError):  # the stream was closed under us during shutdown
            pass
        finally:
            self._stream.close()

    def tail(self) -> str:
        """The last stderr lines, joined by newlines."""
        with self._lock:
            return "\n".join(self._tail)

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for stderr to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
