"""Turn one flat blob listing into the walk order, holding back only what the listing order forces.

The service lists blob names in byte order, where ``/`` sorts after ``-`` and ``.``; a walk visits depth-first,
parent before children, siblings sorted, which is the byte order of the names with ``/`` read as the lowest
character. The two orders differ only where a name has ``-`` or ``.`` at a position where another name has ``/``
(``a-b`` is listed before ``a/c`` but walked after it). So an entry is held back only while names starting with
``<its text before a '-' or '.'>/`` can still come; everything else leaves at once. Memory stays bounded by those
entries (typically a file ``x.ext`` waiting for a directory ``x/``), never by the size of the tree.

Directories are derived from the names: the listing holds every name below a directory in one run, so each
directory is seen once, where its first name appears. Folder placeholders are directories, never files: a blob whose
name ends in ``/``, and a blob marked ``hdi_isfolder=true`` (Data Lake accounts), which is listed at its own name,
apart from the run of the names below it, so a marked folder is remembered and not announced again. A name that
breaks the path rules is never shown, but the directories of its valid leading components are.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.paths import ROOT, is_valid_path, leading_directories

_HELD_BACK = "-."
"""The path characters that sort before ``/``."""


@dataclass(frozen=True)
class BlobEntry:
    """One blob found by a flat listing: its name relative to the listed directory, its size and mod time."""

    name: str
    size: int
    mod_time: datetime
    marked_folder: bool = False
    """The blob carries ``hdi_isfolder=true``: the name is a directory."""


def walk_key(name: str) -> str:
    """The sort key of the walk order: ``/`` read as the lowest character."""
    return name.replace("/", "\x00")


@dataclass(order=True)
class _Pending:
    key: str
    is_file: bool
    name: str = field(compare=False)
    entry: BlobEntry | None = field(compare=False)


def _may_still_come(name: str, last_listed: str) -> bool:
    """True when a name listed after ``last_listed`` can still sort before ``name`` in the walk order."""
    for index, character in enumerate(name):
        if character in _HELD_BACK:
            blocker = name[:index] + "/"
            if last_listed[: len(blocker)] <= blocker:
                return True
    return False


def walk_order(entries: Iterable[BlobEntry]) -> Iterator[tuple[str, BlobEntry | None]]:
    """Yield ``(name, entry)`` for every file and directory of a listing in byte order, in walk order.

    ``entry`` is None for a directory. Names that break the path rules are skipped.
    """
    pending: list[_Pending] = []
    previous_directories: set[str] = set()
    marked: set[str] = set()
    last_listed = ""
    for entry in entries:
        directories = leading_directories(entry.name + "/" if entry.marked_folder else entry.name)
        for directory in directories:
            if directory not in previous_directories and directory not in marked:
                heapq.heappush(pending, _Pending(walk_key(directory), False, directory, None))
        previous_directories = set(directories)
        if entry.marked_folder and directories and directories[-1] == entry.name:
            marked.add(entry.name)
        elif not entry.marked_folder and is_valid_path("/" + entry.name):
            heapq.heappush(pending, _Pending(walk_key(entry.name), True, entry.name, entry))
        last_listed = entry.name
        while pending and not _may_still_come(pending[0].name, last_listed):
            item = heapq.heappop(pending)
            yield item.name, item.entry
    while pending:
        item = heapq.heappop(pending)
        yield item.name, item.entry


def walk_infos(base: str, entries: Iterable[BlobEntry]) -> Iterator[FileInfo]:
    """The FileInfo of every descendant of directory ``base``, in walk order; directories get size 0, EPOCH."""
    head = "" if base == ROOT else base
    for name, entry in walk_order(entries):
        path = f"{head}/{name}"
        if entry is None:
            yield FileInfo(path, 0, EPOCH, is_dir=True)
        else:
            yield FileInfo(path, entry.size, entry.mod_time, is_dir=False)
