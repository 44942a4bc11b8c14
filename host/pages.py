"""Answers of any size: ``list`` and ``walk`` in pages with a cursor (protocol.md section 6, protocol 1.1).

A page holds at most :data:`PAGE_ENTRIES` entries and at most half the client's ``max_message_bytes`` of JSON, so
any listing fits the client's limits. When more entries follow, the answer carries a ``cursor``: the host uses the
path of the page's last entry, which lets it resume from the cursor alone (``walk(path, start_after=cursor)``, or
the children after it), so a cursor never expires. To keep a long listing linear, the host also keeps the live
iterator of the most recent listings (at most :data:`KEPT_LISTINGS`, the oldest closed first) and continues it when
the next page is asked for; memory stays bounded by that many pages' worth of lookahead plus what the driver holds.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any, TypeVar

from registry_storage.fileinfo import FileInfo
from registry_storage.wire import fileinfo_to_wire

T = TypeVar("T")

PAGE_ENTRIES = 5000
"""Most entries in one page."""

KEPT_LISTINGS = 16
"""Listings whose iterators are kept between pages."""

ENTRY_OVERHEAD = 96
"""JSON bytes of a FileInfo besides its path (an upper bound), used to keep a page under the message limit."""

Key = tuple[str, str, str]
"""(method, path, cursor) of a listing waiting for its next page."""


Rest = tuple[T, Iterator[T]]
"""What follows a page: its first entry, already drawn, and the listing's own iterator."""


class PageTable:
    """The live listings of one session, by the cursor of their next page."""

    def __init__(self, keep: int = KEPT_LISTINGS) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._listings: OrderedDict[Key, Rest[Any]] = OrderedDict()

    def take(self, key: Key) -> Rest[Any] | None:
        """Remove and return the listing waiting under ``key``, if it is still kept."""
        with self._lock:
            return self._listings.pop(key, None)

    def keep(self, key: Key, listing: Rest[Any]) -> None:
        """Keep ``listing`` for the page after ``key``'s cursor; closes the oldest one beyond the limit."""
        with self._lock:
            self._listings[key] = listing
            evicted = [self._listings.popitem(last=False)[1] for _ in range(len(self._listings) - self._keep)]
        for old in evicted:
            _close(old)

    def close(self) -> None:
        """Close every kept listing (the session ended)."""
        with self._lock:
            listings = list(self._listings.values())
            self._listings.clear()
        for listing in listings:
            _close(listing)


def _close(listing: Rest[Any]) -> None:
    close = getattr(listing[1], "close", None)
    if callable(close):
        close()


def _page(entries: Iterator[T], size: Callable[[T], int], budget: int) -> tuple[list[T], Rest[T] | None]:
    """The next page of ``entries`` and the rest (None at the end), within PAGE_ENTRIES and ``budget`` bytes."""
    page: list[T] = []
    used = 0
    for entry in entries:
        used += size(entry)
        if page and (len(page) >= PAGE_ENTRIES or used > budget):
            return page, (entry, entries)
        page.append(entry)
    return page, None


def _resume(kept: Rest[T] | None) -> Iterator[T] | None:
    return None if kept is None else chain([kept[0]], kept[1])


def walk_page(
    pages: PageTable, walk: Callable[[str | None], Iterator[FileInfo]], path: str, after: str | None, budget: int
) -> dict[str, Any]:
    """The next page of ``walk(path, start_after=after)``; ``after`` is the hint or the previous page's cursor.

    ``walk`` raises at the call (a missing path), so errors come with the first page.
    """
    listing = _resume(pages.take(("walk", path, after))) if after is not None else None
    entries: Iterator[FileInfo] = listing if listing is not None else walk(after)
    page, rest = _page(entries, lambda info: len(info.path) + ENTRY_OVERHEAD, budget)
    cursor = page[-1].path if rest is not None else None
    if rest is not None and cursor is not None:
        pages.keep(("walk", path, cursor), rest)
    return {"entries": [fileinfo_to_wire(info) for info in page], "cursor": cursor}


def list_page(
    pages: PageTable, children: Callable[[], list[str]], path: str, cursor: str | None, budget: int
) -> dict[str, Any]:
    """The next page of the sorted ``children()`` of ``path``: those after ``cursor`` (all when it is None)."""
    listing = _resume(pages.take(("list", path, cursor))) if cursor is not None else None
    if listing is None:
        names = children()
        start = 0 if cursor is None else bisect.bisect_right(names, cursor)
        listing = iter(names[start:]) if start else iter(names)
    page, rest = _page(listing, lambda name: len(name) + 3, budget)
    following = page[-1] if rest is not None else None
    if rest is not None and following is not None:
        pages.keep(("list", path, following), rest)
    return {"paths": page, "cursor": following}


__all__ = ["PAGE_ENTRIES", "PageTable", "list_page", "walk_page"]
