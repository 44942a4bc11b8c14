"""Printing for the CLI: human sizes and times, JSON documents, and raw bytes to stdout.

Human output is for people and may change; ``--json`` output is for scripts: one JSON document on stdout, with
sizes in bytes and times in RFC 3339 UTC with microseconds.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, BinaryIO

from registry_storage.errors import DriverExitedError
from registry_storage.fileinfo import FileInfo
from registry_storage.wire.startup import startup_error_in

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


class BrokenOutputError(Exception):
    """stdout was closed by its reader (``registry-storage cat /big | head``); the command stops quietly."""


def human_size(size: int) -> str:
    """``size`` bytes in binary units with one decimal (``1.5 MiB``); whole bytes below 1 KiB (``512 B``)."""
    value, unit = float(size), 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as RFC 3339 with microseconds and a ``Z`` suffix."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def human_time(moment: datetime) -> str:
    """``moment`` in UTC to the second, as ``ls -l`` would show it (``2024-05-01 12:30:05``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def info_document(info: FileInfo) -> dict[str, Any]:
    """``info`` as a JSON object: ``path``, ``type`` (``file`` or ``directory``), ``size``, ``mod_time``."""
    return {
        "path": info.path,
        "type": "directory" if info.is_dir else "file",
        "size": info.size,
        "mod_time": rfc3339(info.mod_time),
    }


def one_line(error: BaseException) -> str:
    """``error`` as one line: its first non-blank line, or for a driver process that exited, its status and the
    last line it wrote to stderr (the whole stderr went to the driver's logger already)."""
    if isinstance(error, DriverExitedError):
        said = [line.strip() for line in error.stderr_tail.splitlines() if line.strip()]
        failure = startup_error_in(error.stderr_tail, error.driver)  # protocol.md section 2
        last = failure.message if failure is not None else said[-1] if said else ""
        text = f"driver process exited with status {error.returncode}" + (f": {last}" if last else "")
        return f"{error.driver}: {text}" if error.driver else text
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def print_json(document: object) -> None:
    """Print ``document`` as indented JSON followed by a newline."""
    print(json.dumps(document, indent=2, sort_keys=False))


def print_lines(lines: Iterable[str]) -> None:
    """Print each line, flushing at the end."""
    for line in lines:
        print(line)
    sys.stdout.flush()


def binary_stdout() -> BinaryIO:
    """The binary stream under stdout."""
    return sys.stdout.buffer


def write_output(stream: BinaryIO, chunk: bytes) -> None:
    """Write ``chunk`` to ``stream``; raises BrokenOutputError when the reader has gone away."""
    try:
        stream.write(chunk)
    except BrokenPipeError:
        _silence_stdout()
        raise BrokenOutputError from None


def flush_output(stream: BinaryIO) -> None:
    """Flush ``stream``; raises BrokenOutputError when the reader has gone away."""
    try:
        stream.flush()
    except BrokenPipeError:
        _silence_stdout()
        raise BrokenOutputError from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
