"""The walk order and where a ``start_after`` hint puts each entry of it.

``walk`` visits depth-first, each directory before what lies below it, siblings sorted by their names' bytes. Over
full paths that is the byte order of the paths with ``/`` read as lower than every other byte: ``/a/b/x`` comes before
``/a/b-c`` although a plain sort of the strings puts ``-`` first. :func:`walk_key` is that sort key.

``walk(path, start_after=s)`` yields only the entries whose walk key is above ``s``'s. For a child met while walking,
:func:`step` says what to do: yield it (and then its whole subtree, which comes after it), descend without yielding
it (it is ``s`` or an ancestor of ``s``: only part of its subtree comes after ``s``), or skip it with its subtree
(everything in it comes before ``s``).
"""

from __future__ import annotations

import enum

from registry_storage.paths import ROOT


def walk_key(path: str) -> str:
    """The sort key of walk order: the path with ``/`` read as the lowest character (paths never hold NUL)."""
    return path.replace("/", "\x00")


def is_after(path: str, start_after: str | None) -> bool:
    """True when ``path`` comes after ``start_after`` in walk order (always, for ``start_after`` None)."""
    return start_after is None or walk_key(path) > walk_key(start_after)


class Step(enum.Enum):
    """What a walk does with a child, given a ``start_after`` hint."""

    YIELD = "yield"
    """The child is after the hint, and so is everything below it."""
    DESCEND = "descend"
    """The child is the hint or one of its ancestors: skip it but walk below it, still with the hint."""
    SKIP = "skip"
    """The child and everything below it come before the hint."""


def step(child: str, start_after: str | None) -> Step:
    """Where ``child`` stands relative to ``start_after`` (see :class:`Step`)."""
    if is_after(child, start_after):
        return Step.YIELD
    assert start_after is not None
    if start_after == child or start_after.startswith(child + "/") or child == ROOT:
        return Step.DESCEND
    return Step.SKIP


def listing_ranges(path: str, start_after: str | None) -> list[tuple[str, str | None]]:
    """The flat listings, in plain byte order of the names below directory ``path``, that together hold every
    entry after ``start_after`` in walk order: ``(name prefix, list after this name or None)`` pairs, names relative
    to ``path``. Merged in byte order they are what a walk from the hint needs, and little more.

    A name below the hint in byte order follows it in walk order only where the hint has ``/`` and the name ``-``
    or ``.`` (``a/b`` is walked before ``a-c``), so besides the listing after the hint itself, each ``/`` of the
    hint adds the two prefix listings ``<text before it>-`` and ``<text before it>.``. Object stores run them as
    S3 ``ListObjectsV2`` with ``Prefix`` and ``StartAfter``; the entries listed still need :func:`is_after`.
    """
    head = "/" if path == ROOT else path + "/"
    if start_after is None or not start_after.startswith(head):
        return [("", None)]
    relative = start_after[len(head) :]
    ranges: list[tuple[str, str | None]] = [("", relative)]
    for index, character in enumerate(relative):
        if character == "/":
            ranges.extend([(relative[:index] + "-", None), (relative[:index] + ".", None)])
    return ranges


__all__ = ["Step", "is_after", "listing_ranges", "step", "walk_key"]
