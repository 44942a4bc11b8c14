"""From one flat listing of object names to the entries of ``walk``, folder placeholders included.

The listing comes in byte order; :func:`registry_storage.drivers.s3.tree.in_tree_order` turns it into depth-first
order as it streams by. A name ending in ``/`` is a folder placeholder (other tools make them): it stands for a
directory, never a file, so the directory shows even when nothing else lies below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from registry_storage.drivers.s3.tree import in_tree_order
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.paths import is_valid_path, join


def is_tree_name(relative: str) -> bool:
    """True when a name relative to a listed directory is part of the tree: a file or a folder placeholder whose
    components are valid path components. ``""`` (the directory's own placeholder) and temporary objects are not."""
    stripped = relative[:-1] if relative.endswith("/") else relative
    return bool(stripped) and is_valid_path("/" + stripped)


def depth_first(base: str, entries: Iterable[tuple[str, int, datetime]]) -> Iterator[FileInfo]:
    """Yield the FileInfo of every file and directory below ``base``, depth-first, parents first, siblings sorted.

    ``entries`` are ``(name relative to base, size, mod_time)`` in byte order, names as :func:`is_tree_name`
    accepts them; placeholders (ending in ``/``) give directories only. Directories get size 0 and the epoch.
    """
    open_directories: list[str] = []
    last_file = ""
    for relative, size, mod_time in in_tree_order(entries):
        placeholder = relative.endswith("/")
        components = relative.rstrip("/").split("/")
        directories = components if placeholder else components[:-1]
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
        if not placeholder:
            last_file = relative
            yield FileInfo(join(base, relative), size, mod_time, False)
