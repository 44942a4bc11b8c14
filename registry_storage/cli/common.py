"""What the data subcommands share: storage path arguments, output options, and opening the chosen drivers.

A single-driver command takes the unprefixed driver options (``--driver``, ``--param``, ...). A two-driver command
(``cp``, ``sync``) takes ``--from-*`` options for its source and ``--to-*`` options for its destination; the
unprefixed options choose the driver of any side that names none, so ``--driver`` alone copies within one store and
``--driver filesystem --from-param rootdirectory=/a --to-param rootdirectory=/b`` copies between two roots.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from registry_storage.cli.selection import DriverSpec, UsageError, open_driver, spec_from_args
from registry_storage.driver import StorageDriver
from registry_storage.errors import InvalidPathError
from registry_storage.factory import DRIVER_GROUP
from registry_storage.paths import ROOT, check_path, directory_prefix, join

SOURCE_PREFIX = "from-"
DESTINATION_PREFIX = "to-"
_CHOICES = ("driver", "exec", "config")
_ADJUSTMENTS = ("param", "params", "out_of_process")


class CommandError(Exception):
    """The command could not do what was asked; the CLI prints the message and exits with status 1."""


def storage_path(text: str) -> str:
    """An argparse type: a storage path, trailing slashes dropped (``/a/`` is ``/a``); ``/`` is kept.

    Raises argparse.ArgumentTypeError (a usage error) for a path that breaks the path rules.
    """
    path = text.rstrip("/") or ROOT
    try:
        return check_path(path, allow_root=True)
    except InvalidPathError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def rebase(path: str, old_root: str, new_root: str) -> str:
    """``path``, which lies within ``old_root``, moved to the same place within ``new_root``."""
    if path == old_root:
        return new_root
    return join(new_root, path[len(directory_prefix(old_root)) :])


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--json``: print one JSON document for scripts instead of human output."""
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of human output")


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``-q/--quiet``: no progress bars and no summary."""
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no summary")


def _chooses_driver(args: argparse.Namespace, prefix: str) -> bool:
    attr = prefix.replace("-", "_")
    return any(getattr(args, f"{attr}{option}") for option in _CHOICES)


def _adjusts_driver(args: argparse.Namespace, prefix: str) -> bool:
    attr = prefix.replace("-", "_")
    return any(getattr(args, f"{attr}{option}") for option in _ADJUSTMENTS)


def side_spec(args: argparse.Namespace, prefix: str, role: str) -> DriverSpec:
    """The driver of one side (``prefix`` ``from-`` or ``to-``) of a two-driver command.

    The side's own ``--<prefix>driver``/``exec``/``config`` win; otherwise the unprefixed options choose the driver
    and the side's ``--<prefix>param``/``params``/``out-of-process`` adjust it. Raises UsageError when neither
    chooses a driver.
    """
    if _chooses_driver(args, prefix):
        return spec_from_args(args, prefix)
    if not _chooses_driver(args, ""):
        raise UsageError(f"choose the {role} driver with --{prefix}driver, --{prefix}exec or --{prefix}config")
    shared = spec_from_args(args)
    if not _adjusts_driver(args, prefix):
        return shared
    adjusted = argparse.Namespace(**vars(args))
    attr = prefix.replace("-", "_")
    setattr(adjusted, f"{attr}exec", shared.executable)
    setattr(adjusted, f"{attr}driver", None if shared.executable else shared.name)
    own = spec_from_args(adjusted, prefix)
    return DriverSpec(
        name=shared.name,
        executable=shared.executable,
        parameters={**shared.parameters, **own.parameters},
        out_of_process=shared.out_of_process or own.out_of_process,
    )


def missing_filesystem_root(spec: DriverSpec) -> str | None:
    """The root directory of a filesystem driver ``spec`` that does not exist (None when it does, or for another
    driver). By the contract it is an empty store, but a read command tells the operator, whose typo it may be."""
    if spec.name != "filesystem" or spec.executable:
        return None
    root = spec.parameters.get("rootdirectory") or _declared_default("filesystem", "rootdirectory")
    if not isinstance(root, str) or not root or os.path.isdir(root):
        return None
    return os.path.abspath(root)


def _declared_default(driver: str, parameter: str) -> object:
    """The default of ``parameter`` as the installed in-process driver declares it (None when unknown)."""
    from importlib import metadata  # noqa: PLC0415 - only for a filesystem root given by default

    entry = next((entry for entry in metadata.entry_points(group=DRIVER_GROUP) if entry.name == driver), None)
    if entry is None:
        return None
    factory = entry.load()
    declared = getattr(getattr(factory, "__self__", None), "PARAMETERS", [])
    return next((item.default for item in declared if item.name == parameter), None)


def note_missing_root(spec: DriverSpec) -> None:
    """Say on stderr that the filesystem root of ``spec`` does not exist, if so (for commands that read)."""
    root = missing_filesystem_root(spec)
    if root is not None:
        print(f"registry-storage: note: the filesystem root {root} does not exist (an empty store)", file=sys.stderr)


@contextmanager
def opened(spec: DriverSpec, *, reading: bool = False) -> Iterator[StorageDriver]:
    """Open the driver ``spec`` describes and close it when the block ends; ``reading`` (a command that only reads)
    says on stderr when a filesystem root does not exist.

    Raises InvalidStorageDriverError or the driver's InvalidParameterError when it cannot be opened.
    """
    if reading:
        note_missing_root(spec)
    driver = open_driver(spec)
    try:
        yield driver
    finally:
        driver.close()


@contextmanager
def opened_pair(source: DriverSpec, destination: DriverSpec) -> Iterator[tuple[StorageDriver, StorageDriver]]:
    """Open the source and destination drivers; equal specs share one driver (one store, one child process)."""
    with ExitStack() as stack:
        source_driver = stack.enter_context(opened(source, reading=True))
        destination_driver = source_driver if destination == source else stack.enter_context(opened(destination))
        yield source_driver, destination_driver
