"""From a flat listing of object keys to the entries of ``walk``, in depth-first order, without listing per directory.

Object stores (S3, GCS) list keys in byte order, where ``a-b/x`` and ``a.b/x`` come before ``a/x`` (``-`` and ``.``
sort below ``/``). ``walk`` wants depth-first order with sorted siblings, which is byte order with ``/`` sorting
below every other character. :func:`depth_first` turns one into the other as the keys stream by, holding back only
the keys that an earlier sibling's subtree may still precede, and synthesises one directory entry before the first
key below it.

Every key below a directory makes it exist, so what ``list`` shows (S3's common prefixes) ``stat`` and ``walk``
find too: a folder placeholder (a key ending in ``/``, as the AWS console's "Create folder" writes) is a directory
and never a file, and a key whose name is not a valid path still makes the directories of its valid leading
components exist, though it is never shown itself.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime

from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.paths import is_valid_path, join, leading_directories

_TREE_ORDER = str.maketrans({"/": "\x00"})


def tree_order(relative: str) -> str:
    """The sort key of a relative key in depth-first order: ``/`` sorts below every character a path may hold."""
    return relative.translate(_TREE_ORDER)


def is_entry_key(relative: str) -> bool:
    """True when a key relative to the walked directory names a file: not a placeholder (ending in ``/``) and made
    of valid path components. Keys other tools wrote with other names are not part of the tree."""
    return bool(relative) and not relative.endswith("/") and is_valid_path("/" + relative)


def is_tree_key(relative: str) -> bool:
    """True when a key relative to a listed directory is part of the tree as it is: a file or a folder placeholder
    (ending in ``/``) whose components are valid path components. ``""`` (the directory's own placeholder) and keys
    with other names are not."""
    stripped = relative[:-1] if relative.endswith("/") else relative
    return bool(stripped) and is_valid_path("/" + stripped)


def _bound(relative: str) -> str:
    """The tree-order key below which no key listed after ``relative`` (in byte order) can sort.

    A later key can sort earlier in tree order only if it shares a prefix with ``relative`` and continues with
    ``/`` where ``relative`` has ``-`` or ``.``; the first such position gives the lowest bound.
    """
    for index, character in enumerate(relative):
        if character in "-.":
            return tree_order(relative[:index]) + "\x00"
    return tree_order(relative) + "\x00"


def in_tree_order(entries: Iterable[tuple[str, int, datetime]]) -> Iterator[tuple[str, int, datetime]]:
    """Reorder ``(relative key, size, mod_time)`` triples from byte order to tree order, as they stream by."""
    pending: list[tuple[str, str, int, datetime]] = []
    for relative, size, mod_time in entries:
        heapq.heappush(pending, (tree_order(relative), relative, size, mod_time))
        bound = _bound(relative)
        while pending and pending[0][0] < bound:
            _, ready, ready_size, ready_time = heapq.heappop(pending)
            yield ready, ready_size, ready_time
    while pending:
        _, ready, ready_size, ready_time = heapq.heappop(pending)
        yield ready, ready_size, ready_time


def depth_first(base: str, entries: Iterable[tuple[str, int, datetime]]) -> Iterator[FileInfo]:
    """Yield the FileInfo of every file and directory below ``base``, depth-first, parents first, siblings sorted.

    ``entries`` are ``(key relative to base, size, mod_time)`` of every key below ``base`` in byte order (as
    ListObjectsV2 returns them), placeholders and invalid names included: each makes its directories exist, only a
    valid file key is yielded as a file. Directories get size 0 and the epoch as their modification time.
    """
    open_directories: list[str] = []
    last_file = ""
    for relative, size, mod_time in in_tree_order(entries):
        directories = [directory.rsplit("/", 1)[-1] for directory in leading_directories(relative)]
        shared = 0
        while (
            shared < len(directories)
            and shared < len(open_directories)
            and directories[shared] == open_directories[shared]
        ):
            shared += 1
        for depth in range(shared, len(directories)):
            directory = "/".join(directories[: depth + 1])
            if directory != last_file:
                yield FileInfo(join(base, directory), 0, EPOCH, True)
        open_directories = directories
        if is_entry_key(relative):
            last_file = relative
            yield FileInfo(join(base, relative), size, mod_time, False)
