"""Moving single files in and out of a store and around it: ``get``, ``put``, ``mv`` and ``rm``.

Each takes the unprefixed driver options. They print nothing on success unless ``--json`` asks for a result
document; ``get`` and ``put`` draw a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

from registry_storage.cli.common import (
    CommandError,
    add_json_argument,
    add_quiet_argument,
    opened,
    rebase,
    storage_path,
)
from registry_storage.cli.output import binary_stdout, flush_output, print_json, write_output
from registry_storage.cli.progress import Progress
from registry_storage.cli.selection import UsageError, add_driver_arguments, spec_from_args
from registry_storage.driver import StorageDriver
from registry_storage.errors import PathNotFoundError
from registry_storage.paths import ROOT, is_within
from registry_storage.streams import iter_chunks

STANDARD_STREAM = "-"


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``get``, ``put``, ``mv`` and ``rm``."""
    get = subparsers.add_parser("get", help="download a file", description=run_get.__doc__)
    get.add_argument("path", type=storage_path, metavar="PATH")
    get.add_argument(
        "local",
        nargs="?",
        metavar="LOCAL",
        help="local file or directory (default: the current directory); - for stdout",
    )
    add_quiet_argument(get)
    add_json_argument(get)
    add_driver_arguments(get)
    get.set_defaults(run=run_get)

    put = subparsers.add_parser("put", help="upload a file", description=run_put.__doc__)
    put.add_argument("local", metavar="LOCAL", help="local file; - for stdin")
    put.add_argument("path", type=storage_path, metavar="PATH")
    add_quiet_argument(put)
    add_json_argument(put)
    add_driver_arguments(put)
    put.set_defaults(run=run_put)

    mv = subparsers.add_parser("mv", help="move a file or directory", description=run_mv.__doc__)
    mv.add_argument("source", type=storage_path, metavar="SOURCE")
    mv.add_argument("destination", type=storage_path, metavar="DESTINATION")
    add_json_argument(mv)
    add_driver_arguments(mv)
    mv.set_defaults(run=run_mv)

    rm = subparsers.add_parser("rm", help="delete files (and directories with -r)", description=run_rm.__doc__)
    rm.add_argument("paths", nargs="+", type=storage_path, metavar="PATH")
    rm.add_argument("-r", "--recursive", action="store_true", help="delete directories and everything below them")
    add_json_argument(rm)
    add_driver_arguments(rm)
    rm.set_defaults(run=run_rm)


def _file_size(driver: StorageDriver, path: str) -> int:
    """The size of the file at ``path``; CommandError for a directory, PathNotFoundError when missing."""
    info = driver.stat(path)
    if info.is_dir:
        raise CommandError(f"{path} is a directory; copy a tree with cp -r or sync")
    return info.size


def _local_target(local: str | None, path: str) -> str:
    """Where ``get`` writes: ``local``, or the file's name inside ``local`` when it is a directory (default ``.``)."""
    target = local or os.curdir
    if os.path.isdir(target):
        return os.path.join(target, path.rsplit("/", 1)[-1])
    return target


def _download(driver: StorageDriver, path: str, output: BinaryIO, progress: Progress, size: int) -> int:
    written = 0
    with driver.read_stream(path) as stream, progress.bar(path, size) as bar:
        for chunk in bar.track(iter_chunks(stream)):
            write_output(output, chunk)
            written += len(chunk)
    flush_output(output)
    return written


def run_get(args: argparse.Namespace) -> int:
    """Download the file at PATH to LOCAL (a file, or a directory to put it in; default the current directory).

    LOCAL ``-`` writes to stdout. A local file appears only once complete (it is written beside, then renamed).
    Exits with status 3 when PATH does not exist, 1 when it is a directory or LOCAL cannot be written.
    """
    to_stdout = args.local == STANDARD_STREAM
    if to_stdout and args.json:
        raise UsageError("get: --json cannot be combined with writing the file to stdout")
    progress = Progress.for_terminal(args.quiet)
    with opened(spec_from_args(args), reading=True) as driver:
        size = _file_size(driver, args.path)
        if to_stdout:
            _download(driver, args.path, binary_stdout(), progress, size)
            return 0
        target = _local_target(args.local, args.path)
        partial = target + ".part"
        try:
            output = open(partial, "wb")  # noqa: SIM115 - closed below, before the rename
        except OSError as error:
            raise CommandError(f"cannot write {target}: {error.strerror}") from error
        try:
            with output:
                written = _download(driver, args.path, output, progress, size)
            os.replace(partial, target)
        except BaseException:
            with suppress(OSError):
                os.unlink(partial)
            raise
    if args.json:
        print_json({"path": args.path, "local": target, "bytes": written})
    return 0


@contextmanager
def _local_source(local: str) -> Iterator[tuple[BinaryIO, int | None]]:
    """The local file to upload and its size (None for stdin); FileNotFoundError when it is missing."""
    if local == STANDARD_STREAM:
        yield sys.stdin.buffer, None
        return
    if os.path.isdir(local):
        raise CommandError(f"{local} is a directory; upload a tree with sync --from-driver filesystem")
    try:
        source = open(local, "rb")  # noqa: SIM115 - closed by the with block below
    except FileNotFoundError:
        raise FileNotFoundError(f"no such local file: {local}") from None
    except OSError as error:
        raise CommandError(f"cannot read {local}: {error.strerror}") from error
    with source:
        yield source, os.fstat(source.fileno()).st_size


def run_put(args: argparse.Namespace) -> int:
    """Upload LOCAL (``-`` for stdin) to PATH, replacing what is there, streaming with bounded memory.

    Exits with status 3 when LOCAL does not exist, 1 when PATH is a directory or lies below a file.
    """
    progress = Progress.for_terminal(args.quiet)
    with (
        _local_source(args.local) as (source, size),
        opened(spec_from_args(args)) as driver,
        progress.bar(args.path, size) as bar,
    ):
        written = driver.write_stream(args.path, 0, bar.track(iter_chunks(source)))
    if args.json:
        print_json({"path": args.path, "bytes": written})
    return 0


def _exists(driver: StorageDriver, path: str) -> bool:
    try:
        driver.stat(path)
    except PathNotFoundError:
        return False
    return True


def move_tree(driver: StorageDriver, source: str, destination: str) -> list[tuple[str, str]]:
    """Move the file or directory ``source`` to ``destination``; returns the (from, to) pairs moved.

    A directory is moved file by file and only to a path that does not exist yet. Raises PathNotFoundError for a
    missing source, CommandError when a directory would move into itself or onto something that exists.
    """
    if not driver.stat(source).is_dir:
        driver.move(source, destination)
        return [(source, destination)]
    if is_within(destination, source):
        raise CommandError(f"cannot move {source} into itself ({destination})")
    if _exists(driver, destination):
        raise CommandError(f"{destination} already exists; a directory moves only to a new path")
    files = [entry.path for entry in driver.walk(source) if not entry.is_dir]
    moved = []
    for path in files:
        target = rebase(path, source, destination)
        driver.move(path, target)
        moved.append((path, target))
    return moved


def run_mv(args: argparse.Namespace) -> int:
    """Move SOURCE to DESTINATION within one store; DESTINATION is the new path, never a directory to move into.

    A file replaces whatever file is at DESTINATION. A directory moves file by file, and only to a path that does
    not exist. Exits with status 3 when SOURCE does not exist.
    """
    with opened(spec_from_args(args)) as driver:
        moved = move_tree(driver, args.source, args.destination)
    if args.json:
        print_json({"moved": [{"source": source, "destination": target} for source, target in moved]})
    return 0


def run_rm(args: argparse.Namespace) -> int:
    """Delete each PATH; a directory (with everything below it) only with -r. ``/`` itself is never removed.

    Every path is checked before anything is deleted: exits with status 3 when one is missing, 1 when one is a
    directory and -r was not given.
    """
    if ROOT in args.paths:
        raise CommandError("refusing to remove /; remove the paths below it instead")
    paths = [path for path in args.paths if not any(is_within(path, other) and path != other for other in args.paths)]
    paths = list(dict.fromkeys(paths))
    with opened(spec_from_args(args)) as driver:
        for path in paths:
            if driver.stat(path).is_dir and not args.recursive:
                raise CommandError(f"{path} is a directory; use rm -r to delete it and everything below it")
        for path in paths:
            driver.delete(path)
    if args.json:
        print_json({"removed": paths})
    return 0
