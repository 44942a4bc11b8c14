"""Checks of the tree as seen by ``stat``, ``list`` and ``walk``, including paths that share a prefix."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from functools import partial

from registry_storage.errors import InvalidPathError, PathNotFoundError
from registry_storage.fileinfo import FileInfo
from registry_storage.testing.expectations import expect, expect_equal, expect_raises, expect_sequence, fail, shorten
from registry_storage.testing.registry import CheckContext, CheckGroup

group = CheckGroup("tree")

MOD_TIME_PATIENCE = 3.0
"""Seconds the mod_time check keeps overwriting a file, waiting longer each time, for mod_time to move forward."""


def _expect_info(info: object, path: str, size: int, is_dir: bool) -> None:
    if not isinstance(info, FileInfo):
        fail(f"stat({path!r}): expected a FileInfo, got {shorten(info)}")
    expect_equal((info.path, info.size, info.is_dir), (path, size, is_dir), f"(path, size, is_dir) of stat({path!r})")


def _expect_file(info: object, path: str, size: int) -> None:
    _expect_info(info, path, size, False)


def _expect_directory(info: object, path: str) -> None:
    _expect_info(info, path, 0, True)


def _walk_paths(context: CheckContext, path: str) -> list[str]:
    return [info.path for info in context.driver.walk(path)]


def _expect_walk_not_found(context: CheckContext, path: str) -> None:
    """walk(path) must raise PathNotFoundError carrying ``path`` at the call, not when iterated."""
    driver = context.driver

    def call() -> object:
        items = driver.walk(path)
        try:
            yielded = list(items)
        except PathNotFoundError:
            fail(f"walk({path!r}) raised PathNotFoundError only when iterated; expected it at the call")
        return yielded

    error = expect_raises(PathNotFoundError, call, f"walk({path!r})")
    expect_equal(error.path, path, f"PathNotFoundError.path from walk({path!r})")


# -- stat ------------------------------------------------------------------------------------------------------


@group.check
def stat_of_a_file_reports_its_path_size_and_is_dir_false(context: CheckContext) -> None:
    """stat of a file gives FileInfo(path as given, size, mod_time, is_dir=False)."""
    driver, path = context.driver, context.path("dir", "file")
    driver.put_content(path, context.data(1234))
    _expect_file(driver.stat(path), path, 1234)


@group.check
def stat_of_a_directory_reports_is_dir_true_and_size_zero(context: CheckContext) -> None:
    """stat of a path with something below it gives is_dir=True and size 0, at every level."""
    driver = context.driver
    driver.put_content(context.path("a", "b", "file"), context.data(1234))
    for path in (context.root, context.path("a"), context.path("a", "b")):
        _expect_directory(driver.stat(path), path)


@group.check
def stat_of_root_reports_a_directory(context: CheckContext) -> None:
    """stat("/") is always a directory, whatever the store holds."""
    driver = context.driver
    _expect_directory(driver.stat("/"), "/")
    driver.put_content(context.path("file"), b"x")
    _expect_directory(driver.stat("/"), "/")


@group.check
def stat_of_a_missing_path_raises_path_not_found(context: CheckContext) -> None:
    """stat of a missing path, or of a path below a file, raises PathNotFoundError carrying that path."""
    driver, file = context.driver, context.path("file")
    driver.put_content(file, b"x")
    for path in (context.path("absent"), context.path("absent", "deeper"), f"{file}/child", context.top("absent")):
        error = expect_raises(PathNotFoundError, partial(driver.stat, path), f"stat({path!r})")
        expect_equal(error.path, path, f"PathNotFoundError.path from stat({path!r})")


@group.check
def mod_time_is_timezone_aware_utc_and_recent(context: CheckContext) -> None:
    """mod_time of files (from stat and walk) is a timezone-aware UTC datetime within an hour of this clock."""
    driver, path = context.driver, context.path("dir", "file")
    driver.put_content(path, b"x")
    now = datetime.now(timezone.utc)
    infos = [driver.stat(path), *(info for info in driver.walk(context.root) if not info.is_dir)]
    for info in infos:
        mod_time = info.mod_time
        expect(isinstance(mod_time, datetime), f"mod_time of {info.path}: expected a datetime, got {mod_time!r}")
        expect(
            mod_time.tzinfo is not None and mod_time.utcoffset() == timedelta(0),
            f"mod_time of {info.path}: expected an aware UTC datetime, got {mod_time!r}",
        )
        expect(
            abs(now - mod_time) < timedelta(hours=1),
            f"mod_time of {info.path}: expected about {now.isoformat()}, got {mod_time.isoformat()}",
        )


@group.check
def mod_time_moves_forward_when_a_file_is_overwritten(context: CheckContext) -> None:
    """After an overwrite, mod_time is later than before (waiting up to a few seconds for coarse clocks).

    It must never go backwards between overwrites.
    """
    driver, path = context.driver, context.path("file")
    driver.put_content(path, b"first")
    before = driver.stat(path).mod_time
    deadline = time.monotonic() + MOD_TIME_PATIENCE
    pause = 0.02
    while True:
        time.sleep(pause)
        driver.put_content(path, context.data(8))
        after = driver.stat(path).mod_time
        expect(
            after >= before, f"mod_time after an overwrite went backwards: {before.isoformat()} -> {after.isoformat()}"
        )
        if after > before:
            return
        if time.monotonic() > deadline:
            fail(f"mod_time did not move forward within {MOD_TIME_PATIENCE:g} s of overwrites: {before.isoformat()}")
        pause = min(pause * 2.5, 1.0)


# -- list ------------------------------------------------------------------------------------------------------


@group.check
def list_returns_the_direct_children_sorted(context: CheckContext) -> None:
    """list of a directory with 50 children (files and directories, created out of order) gives them sorted.

    Names are chosen so that sorting full paths differs from sorting storage keys with a trailing slash
    (``d`` vs ``d-1``, ``d.1``, ``d_1``).
    """
    driver = context.driver
    directories = ["d", "D", "dir.x", "e", "0", "a_b", "z", "m-n", "q", "x.y.z"]
    files = ["d-1", "d.1", "d_1", "d1", "e-", "e.", "0-0", "a", "a-b", "A"]
    files += [f"f{index:02d}{'-._'[index % 3]}" for index in range(30)]
    children = [context.path(name) for name in directories + files]
    expect_equal(len(set(children)), 50, "number of distinct children made by the check")
    directory_paths = {context.path(name) for name in directories}
    order = list(children)
    context.rng.shuffle(order)
    for child in order:
        if child in directory_paths:
            driver.put_content(f"{child}/inner/file", b"d")
        else:
            driver.put_content(child, b"f")
    listed = driver.list(context.root)
    expect_sequence(listed, sorted(children), f"list({context.root!r})")
    expect_sequence(driver.list(context.path("d")), [context.path("d", "inner")], "list(<root>/d)")


@group.check
def list_of_root_returns_the_top_level_entries(context: CheckContext) -> None:
    """list("/") gives the top-level paths, sorted, and nothing deeper."""
    driver = context.driver
    second = context.top("second")
    driver.put_content(context.path("a", "file"), b"x")
    driver.put_content(second, b"y")
    expect_sequence(driver.list("/"), sorted([context.root, second]), 'list("/")')


@group.check
def list_of_a_missing_path_raises_path_not_found(context: CheckContext) -> None:
    """list of a missing path raises PathNotFoundError carrying that path."""
    driver = context.driver
    driver.put_content(context.path("present", "file"), b"x")
    for path in (context.path("absent"), context.top("absent")):
        error = expect_raises(PathNotFoundError, partial(driver.list, path), f"list({path!r})")
        expect_equal(error.path, path, f"PathNotFoundError.path from list({path!r})")


@group.check
def list_of_a_file_raises_path_not_found(context: CheckContext) -> None:
    """list of a file raises PathNotFoundError: a file has no children."""
    driver, path = context.driver, context.path("file")
    driver.put_content(path, b"x")
    error = expect_raises(PathNotFoundError, lambda: driver.list(path), f"list({path!r})")
    expect_equal(error.path, path, "PathNotFoundError.path")


# -- walk ------------------------------------------------------------------------------------------------------


@group.check
def walk_yields_depth_first_parent_before_children_siblings_sorted(context: CheckContext) -> None:
    """walk yields every descendant once: depth-first, each directory before what is below it, siblings sorted.

    Each item is the FileInfo stat would give (path, size, is_dir).
    """
    driver = context.driver
    files = {
        "a/x/deep": 3,
        "a/y": 2,
        "a-b": 5,
        "a.b/c": 7,
        "a_b": 1,
        "b": 0,
        "a/x/Deep": 4,
    }
    for name, size in files.items():
        driver.put_content(context.path(*name.split("/")), context.data(size))
    expected = [
        ("a", True, 0),
        ("a/x", True, 0),
        ("a/x/Deep", False, 4),
        ("a/x/deep", False, 3),
        ("a/y", False, 2),
        ("a-b", False, 5),
        ("a.b", True, 0),
        ("a.b/c", False, 7),
        ("a_b", False, 1),
        ("b", False, 0),
    ]
    walked = [(info.path, info.is_dir, info.size) for info in driver.walk(context.root)]
    expect_sequence(walked, [(context.path(name), is_dir, size) for name, is_dir, size in expected], "walk order")


_WALK_TREE = {"a/x/deep": 3, "a/y": 2, "a-b": 5, "a.b/c": 7, "a_b": 1, "b": 0, "a/x/Deep": 4}
_WALK_ORDER = ["a", "a/x", "a/x/Deep", "a/x/deep", "a/y", "a-b", "a.b", "a.b/c", "a_b", "b"]
"""The walk order of :data:`_WALK_TREE`: ``/`` sorts below ``-`` and ``.``, so ``a/y`` comes before ``a-b``."""

_START_AFTER = {
    "0": 0,
    "a": 1,
    "a/x/Deep": 3,
    "a/x/e": 4,
    "a/y": 5,
    "a/z/q": 5,
    "a-b": 6,
    "a.a": 6,
    "a.b/c": 8,
    "a.b/c/d": 8,
    "b": 10,
    "c": 10,
}
"""Hints (relative names) and the index of :data:`_WALK_ORDER` a walk after them starts at: before the first entry,
a directory (its subtree follows it), an entry inside a subtree, paths that do not exist, the last entry, past the end.
"""


def _put_walk_tree(context: CheckContext) -> None:
    for name, size in _WALK_TREE.items():
        context.driver.put_content(context.path(*name.split("/")), context.data(size))


@group.check
def walk_start_after_yields_only_the_entries_after_it_in_walk_order(context: CheckContext) -> None:
    """walk(path, start_after=p) yields exactly the entries after p in walk order, at every position of p: before
    the first entry, a directory (then its descendants follow), inside a subtree, a path that does not exist, the
    last entry and past the end; each item is still the FileInfo stat gives."""
    _put_walk_tree(context)
    walked = [(info.path, info.is_dir, info.size) for info in context.driver.walk(context.root)]
    for hint, start in _START_AFTER.items():
        expected = [context.path(*name.split("/")) for name in _WALK_ORDER[start:]]
        after = context.driver.walk(context.root, start_after=context.path(*hint.split("/")))
        got = [(info.path, info.is_dir, info.size) for info in after]
        expect_sequence([path for path, _, _ in got], expected, f"walk(root, start_after={hint!r})")
        expect_sequence(got, walked[start:], f"FileInfo from walk(root, start_after={hint!r})")


@group.check
def walk_start_after_outside_the_walked_directory(context: CheckContext) -> None:
    """A hint need not lie below the walked directory: one before it (or the root, or the directory itself) leaves
    nothing out, one after its whole subtree leaves everything out."""
    _put_walk_tree(context)
    directory = context.path("a")
    everything = _walk_paths(context, directory)
    for hint in ("/", context.root, directory, context.path("0")):
        got = [info.path for info in context.driver.walk(directory, start_after=hint)]
        expect_sequence(got, everything, f"walk({directory!r}, start_after={hint!r})")
    for hint in (context.path("a-b"), context.path("b"), context.top("zzz")):
        got = [info.path for info in context.driver.walk(directory, start_after=hint)]
        expect_sequence(got, [], f"walk({directory!r}, start_after={hint!r})")


@group.check
def walk_start_after_still_raises_for_a_missing_path_or_a_file(context: CheckContext) -> None:
    """walk of a missing path or a file raises PathNotFoundError at the call whatever the hint, even past the end;
    an invalid hint raises InvalidPathError."""
    driver = context.driver
    _put_walk_tree(context)
    for path in (context.path("absent"), context.path("b")):
        for hint in (context.path("0"), context.path("zzz")):
            call = partial(driver.walk, path, start_after=hint)
            error = expect_raises(PathNotFoundError, call, f"walk({path!r}, start_after={hint!r})")
            expect_equal(error.path, path, f"PathNotFoundError.path from walk({path!r}, start_after={hint!r})")
    for hint in ("a", context.path("a") + "/", context.path("a", "..")):
        call = partial(driver.walk, context.root, start_after=hint)
        expect_raises(InvalidPathError, call, f"walk(root, start_after={hint!r})")


@group.check
def every_listed_child_can_be_stated_as_walk_describes_it(context: CheckContext) -> None:
    """Every child list shows, at every level, can be stat'ed, and stat says what walk says of it.

    What list and walk show, stat describes: a child that list shows and stat refuses breaks ``ls -l`` and
    every tool that lists, then stats.
    """
    driver = context.driver
    for name, size in {"a/b/c/file": 3, "a/b/other": 1, "a-b/x": 2, "a.b": 4, "z/y/x/w/v": 0}.items():
        driver.put_content(context.path(*name.split("/")), context.data(size))
    walked = {info.path: (info.is_dir, info.size) for info in driver.walk(context.root)}
    seen: list[str] = []
    pending = [context.root]
    while pending:
        directory = pending.pop()
        for child in driver.list(directory):
            seen.append(child)
            try:
                info = driver.stat(child)
            except PathNotFoundError:
                fail(f"list({directory!r}) shows {child!r}, but stat({child!r}) raises PathNotFoundError")
            expect_equal(
                (info.path, info.is_dir, info.size), (child, *walked.get(child, (None, None))), f"stat({child!r})"
            )
            if info.is_dir:
                pending.append(child)
    expect_sequence(sorted(seen), sorted(walked), f"every path listed below {context.root!r}")


@group.check
def walk_of_root_yields_every_path(context: CheckContext) -> None:
    """walk("/") yields the top-level directories and everything below them."""
    driver = context.driver
    driver.put_content(context.path("a", "file"), b"x")
    expected = [context.root, context.path("a"), context.path("a", "file")]
    expect_sequence(_walk_paths(context, "/"), expected, 'paths from walk("/")')


@group.check
def walk_of_a_missing_path_raises_path_not_found(context: CheckContext) -> None:
    """walk of a missing path raises PathNotFoundError at the call, before any item is asked for."""
    driver = context.driver
    driver.put_content(context.path("present", "file"), b"x")
    for path in (context.path("absent"), context.top("absent")):
        _expect_walk_not_found(context, path)


@group.check
def walk_of_a_file_raises_path_not_found(context: CheckContext) -> None:
    """walk of a file raises PathNotFoundError at the call: a file has no descendants to walk."""
    driver, path = context.driver, context.path("file")
    driver.put_content(path, b"x")
    _expect_walk_not_found(context, path)


# -- paths sharing a prefix: /a vs /ab at the top level and deeper ------------------------------------------------


def _prefix_pairs(context: CheckContext) -> list[tuple[str, str]]:
    """Two (``/a``-like, ``/ab``-like) pairs: one at the top level, one three levels down."""
    return [(context.top("a"), context.top("ab")), (context.path("x", "a"), context.path("x", "ab"))]


@group.check
def stat_distinguishes_paths_sharing_a_prefix(context: CheckContext) -> None:
    """With only ``/ab/f`` stored, ``/a`` is missing; with a file ``/a`` beside it, each stats as what it is."""
    driver = context.driver
    for short, long in _prefix_pairs(context):
        driver.put_content(f"{long}/f", b"long")
        expect_raises(PathNotFoundError, partial(driver.stat, short), f"stat({short!r}) with only {long}/f")
        driver.put_content(short, b"abc")
        _expect_file(driver.stat(short), short, 3)
        _expect_directory(driver.stat(long), long)


@group.check
def list_distinguishes_paths_sharing_a_prefix(context: CheckContext) -> None:
    """list of ``/a`` holds only what is below ``/a``, never what is below ``/ab``."""
    driver = context.driver
    for short, long in _prefix_pairs(context):
        driver.put_content(f"{short}/f1", b"1")
        driver.put_content(f"{long}/f2", b"2")
        expect_sequence(driver.list(short), [f"{short}/f1"], f"list({short!r})")
        expect_sequence(driver.list(long), [f"{long}/f2"], f"list({long!r})")
    expect_sequence(driver.list(context.path("x")), [context.path("x", "a"), context.path("x", "ab")], "list(<root>/x)")


@group.check
def walk_distinguishes_paths_sharing_a_prefix(context: CheckContext) -> None:
    """walk of ``/a`` yields only what is below ``/a``, never what is below ``/ab``."""
    driver = context.driver
    for short, long in _prefix_pairs(context):
        driver.put_content(f"{short}/f1", b"1")
        driver.put_content(f"{long}/f2", b"2")
        expect_sequence(_walk_paths(context, short), [f"{short}/f1"], f"paths from walk({short!r})")
        expect_sequence(_walk_paths(context, long), [f"{long}/f2"], f"paths from walk({long!r})")
