"""Looking inside a store: ``ls``, ``stat``, ``cat`` and ``du``.

Each takes the unprefixed driver options (``--driver``, ``--param``, ``--config``, ...) and storage paths. A missing
path exits with status 3.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from registry_storage.cli.common import add_json_argument, opened, storage_path
from registry_storage.cli.output import (
    binary_stdout,
    flush_output,
    human_size,
    human_time,
    info_document,
    print_json,
    print_lines,
    rfc3339,
    write_output,
)
from registry_storage.cli.selection import add_driver_arguments, spec_from_args
from registry_storage.driver import StorageDriver
from registry_storage.fileinfo import FileInfo
from registry_storage.paths import ROOT
from registry_storage.streams import iter_chunks


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``ls``, ``stat``, ``cat`` and ``du``."""
    ls = subparsers.add_parser("ls", help="list a directory", description=run_ls.__doc__)
    ls.add_argument("path", nargs="?", type=storage_path, default=ROOT, metavar="PATH", help="default /")
    ls.add_argument("-l", "--long", action="store_true", help="show type, size in bytes and modification time")
    ls.add_argument("-R", "--recursive", action="store_true", help="list everything below the directory")
    add_json_argument(ls)
    add_driver_arguments(ls)
    ls.set_defaults(run=run_ls)

    stat = subparsers.add_parser("stat", help="describe a file or directory", description=run_stat.__doc__)
    stat.add_argument("path", type=storage_path, metavar="PATH")
    add_json_argument(stat)
    add_driver_arguments(stat)
    stat.set_defaults(run=run_stat)

    cat = subparsers.add_parser("cat", help="print files to stdout", description=run_cat.__doc__)
    cat.add_argument("paths", nargs="+", type=storage_path, metavar="PATH")
    add_driver_arguments(cat)
    cat.set_defaults(run=run_cat)

    du = subparsers.add_parser("du", help="total bytes and files under a path", description=run_du.__doc__)
    du.add_argument("path", nargs="?", type=storage_path, default=ROOT, metavar="PATH", help="default /")
    add_json_argument(du)
    add_driver_arguments(du)
    du.set_defaults(run=run_du)


def _entries(driver: StorageDriver, path: str, *, recursive: bool, described: bool) -> Iterator[FileInfo | str]:
    """What ``ls`` shows for ``path``: a file itself, else its children (or every descendant when ``recursive``).

    Children come as FileInfo when ``described`` (or when walking, which yields FileInfo anyway), else as paths.
    """
    info = driver.stat(path)
    if not info.is_dir:
        yield info
    elif recursive:
        yield from driver.walk(path)
    elif described:
        yield from (driver.stat(child) for child in driver.list(path))
    else:
        yield from driver.list(path)


def _long_line(info: FileInfo) -> str:
    kind, size = ("d", "-") if info.is_dir else ("-", str(info.size))
    return f"{kind} {size:>14}  {human_time(info.mod_time)}  {info.path}"


def _short_line(entry: FileInfo | str) -> str:
    return entry if isinstance(entry, str) else entry.path


def run_ls(args: argparse.Namespace) -> int:
    """List the children of a directory (every descendant with -R), or a file itself, one absolute path per line.

    -l adds the type (d for a directory), the size in bytes and the modification time in UTC. --json prints a
    list of {path, type, size, mod_time} objects. Exits with status 3 when the path does not exist.
    """
    with opened(spec_from_args(args), reading=True) as driver:
        entries = _entries(driver, args.path, recursive=args.recursive, described=args.long or args.json)
        if args.json:
            print_json([info_document(entry) for entry in entries if isinstance(entry, FileInfo)])
        elif args.long:
            print_lines(_long_line(entry) for entry in entries if isinstance(entry, FileInfo))
        else:
            print_lines(_short_line(entry) for entry in entries)
    return 0


def run_stat(args: argparse.Namespace) -> int:
    """Describe one path: type, size in bytes and modification time (RFC 3339, UTC).

    Exits with status 3 when the path does not exist.
    """
    with opened(spec_from_args(args), reading=True) as driver:
        info = driver.stat(args.path)
    if args.json:
        print_json(info_document(info))
        return 0
    print_lines(
        [
            f"path:     {info.path}",
            f"type:     {'directory' if info.is_dir else 'file'}",
            f"size:     {info.size} ({human_size(info.size)})",
            f"modified: {rfc3339(info.mod_time)}",
        ]
    )
    return 0


def run_cat(args: argparse.Namespace) -> int:
    """Write the content of each file to stdout, in order, streaming with bounded memory.

    Exits with status 3 when a path is missing or is a directory (nothing after it is printed).
    """
    stdout = binary_stdout()
    with opened(spec_from_args(args), reading=True) as driver:
        for path in args.paths:
            with driver.read_stream(path) as stream:
                for chunk in iter_chunks(stream):
                    write_output(stdout, chunk)
    flush_output(stdout)
    return 0


@dataclass(frozen=True)
class Usage:
    """What lies under a path: ``files`` files holding ``size`` bytes in total."""

    path: str
    size: int
    files: int


def disk_usage(driver: StorageDriver, path: str) -> Usage:
    """Total bytes and files under ``path`` (a file counts itself); raises PathNotFoundError when it is missing."""
    info = driver.stat(path)
    if not info.is_dir:
        return Usage(path, info.size, 1)
    files: Iterable[FileInfo] = (entry for entry in driver.walk(path) if not entry.is_dir)
    size = count = 0
    for entry in files:
        size += entry.size
        count += 1
    return Usage(path, size, count)


def run_du(args: argparse.Namespace) -> int:
    """Print the total size in bytes and the number of files under a path (the whole store by default).

    Human output: bytes, the size in binary units, the file count and the path. --json prints {path, bytes, files}.
    Exits with status 3 when the path does not exist.
    """
    with opened(spec_from_args(args), reading=True) as driver:
        usage = disk_usage(driver, args.path)
    if args.json:
        print_json({"path": usage.path, "bytes": usage.size, "files": usage.files})
    else:
        noun = "file" if usage.files == 1 else "files"
        print_lines([f"{usage.size}\t{human_size(usage.size)}\t{usage.files} {noun}\t{usage.path}"])
    return 0
