"""``registry-storage drivers``: the drivers this machine can run, and the protocol version each executable answers.

In-process drivers are the names registered with the factory and the entry points of the group
``registry_storage.drivers``; each is imported to tell whether it can run here. Executables are the files named
``registry-storage-<name>`` in ``$REGISTRY_STORAGE_DRIVERS_PATH``, ``$PATH`` and beside the running Python, resolved
as the factory resolves them (the first found wins). Each is started with ``{}`` as its parameters and asked for a
handshake, with a short deadline, in parallel; a driver that needs parameters answers with its one-line error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from registry_storage import factory
from registry_storage.cli.common import add_json_argument
from registry_storage.cli.output import one_line, print_json, print_lines

PROBE_TIMEOUT = 5.0
"""Seconds an executable may take to answer the handshake."""
STOP_TIMEOUT = 1.0
"""Seconds each step of stopping a probed executable may take."""
PROBE_GRACE = 3 * STOP_TIMEOUT + 1.0
"""Seconds a probe may take beyond its deadline to stop the executable before the listing gives up on it."""
DRIVER_LOGGER = "registry_storage.driver"
"""The parent of the loggers a driver's stderr is forwarded to; probes keep it quiet (errors go in the table)."""


@dataclass(frozen=True)
class InProcessDriver:
    """A driver the factory can create in this process: where it comes from and whether it can be imported."""

    name: str
    source: str
    error: str | None = None


@dataclass(frozen=True)
class ExecutableDriver:
    """A driver executable and what it answered: its protocol version and implementation, or its error."""

    name: str
    path: str
    protocol: str | None = None
    implementation: str | None = None
    error: str | None = None


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``drivers``."""
    parser = subparsers.add_parser(
        "drivers",
        help="list in-process drivers and driver executables",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--timeout", type=float, default=PROBE_TIMEOUT, help="seconds each executable may take")
    add_json_argument(parser)
    parser.set_defaults(run=run)


def in_process_drivers() -> list[InProcessDriver]:
    """Every in-process driver, sorted by name, each imported to report whether it can run."""
    entries = {entry.name: entry for entry in metadata.entry_points(group=factory.DRIVER_GROUP)}
    found = []
    for name in factory.installed_drivers():
        entry = entries.get(name)
        if entry is None:
            found.append(InProcessDriver(name, "registered in this process"))
            continue
        try:
            entry.load()
        except Exception as error:  # any import failure is reported, not raised
            found.append(InProcessDriver(name, entry.value, f"cannot import: {error}"))
        else:
            found.append(InProcessDriver(name, entry.value))
    return found


def _search_directories() -> Iterator[str]:
    yield from os.environ.get(factory.DRIVERS_PATH_VARIABLE, "").split(os.pathsep)
    yield from os.environ.get("PATH", os.defpath).split(os.pathsep)
    yield os.path.dirname(sys.executable)


def executable_names() -> list[str]:
    """The driver names of every executable ``registry-storage-<name>`` on the search path, sorted."""
    names = set()
    for directory in _search_directories():
        try:
            entries = os.listdir(directory) if directory else []
        except OSError:
            continue
        for entry in entries:
            if entry.startswith(factory.EXECUTABLE_PREFIX) and len(entry) > len(factory.EXECUTABLE_PREFIX):
                path = os.path.join(directory, entry)
                if os.path.isfile(path) and os.access(path, os.X_OK):
                    names.add(entry.removeprefix(factory.EXECUTABLE_PREFIX))
    return sorted(names)


def _launcher() -> Callable[..., Any] | None:
    """The installed launcher (the client's ``launch``), chosen as the factory chooses it; None when none is."""
    launchers = {entry.name: entry for entry in metadata.entry_points(group=factory.LAUNCHER_GROUP)}
    if not launchers:
        return None
    loaded: Callable[..., Any] = launchers[sorted(launchers)[0]].load()
    return loaded


def probe(name: str, path: str, timeout: float = PROBE_TIMEOUT) -> ExecutableDriver:
    """Start the executable at ``path`` with ``{}`` as parameters through the launcher, read its handshake, stop it.

    Never raises for what the executable does: an exit, a silence longer than ``timeout`` or a protocol error is
    reported in ``error``.
    """
    launcher = _launcher()
    if launcher is None:
        return ExecutableDriver(name, path, error="no launcher installed to run driver executables")
    try:
        driver = launcher(path, name, {}, timeout=timeout, start_timeout=timeout, stop_timeout=STOP_TIMEOUT)
    except Exception as error:  # every failure is part of the listing
        return ExecutableDriver(name, path, error=one_line(error).removeprefix(f"{name}: "))
    try:
        info = getattr(getattr(driver, "session", None), "info", None)
        protocol = getattr(info, "protocol_version", None)
        parts = (getattr(info, "implementation", ""), getattr(info, "version", ""))
        implementation = " ".join(str(part) for part in parts if part) or None
        return ExecutableDriver(name, path, str(protocol) if protocol else None, implementation)
    finally:
        driver.close()


@contextmanager
def _driver_logs_silenced() -> Iterator[None]:
    logger = logging.getLogger(DRIVER_LOGGER)
    handler = logging.NullHandler()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def executable_drivers(timeout: float = PROBE_TIMEOUT) -> list[ExecutableDriver]:
    """Every driver executable the factory would find, probed in parallel, sorted by name.

    Returns within about ``timeout`` plus the stop steps whatever the executables do: a probe still running then is
    reported as not answering (it runs on a daemon thread, so it never holds up the exit).
    """
    located = [(name, factory.find_executable(name)) for name in executable_names()]
    found = [(name, path) for name, path in located if path]
    results: dict[str, ExecutableDriver] = {}

    def run_probe(name: str, path: str) -> None:
        results[name] = probe(name, path, timeout)

    threads = [threading.Thread(target=run_probe, args=item, name=f"probe-{item[0]}", daemon=True) for item in found]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + PROBE_GRACE
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    silent = f"no answer within {timeout:g} s"
    return [results.get(name) or ExecutableDriver(name, path, error=silent) for name, path in found]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return [
        "  " + "".join(cell.ljust(width + 2) for cell, width in zip(row[:-1], widths, strict=True)) + row[-1]
        for row in rows
    ]


def run(args: argparse.Namespace) -> int:
    """Print the in-process drivers and the driver executables (with the protocol version each answers)."""
    in_process = in_process_drivers()
    with _driver_logs_silenced():
        executables = executable_drivers(args.timeout)
    if args.json:
        print_json(
            {
                "in_process": [asdict(driver) for driver in in_process],
                "executables": [asdict(driver) for driver in executables],
            }
        )
        return 0
    lines = ["in-process drivers:"]
    if in_process:
        lines += _table([["NAME", "SOURCE"]] + [[d.name, d.error or d.source] for d in in_process])
    else:
        lines.append("  none")
    lines.append("driver executables (started with {} parameters):")
    if executables:
        header = ["NAME", "PROTOCOL", "PATH", "IMPLEMENTATION OR ERROR"]
        body = [[d.name, d.protocol or "-", d.path, d.implementation or d.error or ""] for d in executables]
        lines += _table([header, *body])
    else:
        lines.append("  none")
    print_lines(lines)
    return 0
