"""Checks of changes to the tree: ``move``, ``delete``, and directories vanishing with their last file."""

from __future__ import annotations

from functools import partial

from registry_storage.errors import PathConflictError, PathNotFoundError
from registry_storage.testing.expectations import (
    expect_content,
    expect_equal,
    expect_raises,
    expect_sequence,
)
from registry_storage.testing.registry import CheckContext, CheckGroup

group = CheckGroup("changes")


def _expect_missing(context: CheckContext, path: str, when: str) -> None:
    expect_raises(PathNotFoundError, lambda: context.driver.stat(path), f"stat({path!r}) {when}")


def _expect_files(context: CheckContext, contents: dict[str, bytes], when: str) -> None:
    for path, content in contents.items():
        expect_content(context.driver, path, content, f"get_content({path!r}) {when}")


# -- move ------------------------------------------------------------------------------------------------------


@group.check
def move_relocates_a_file_and_creates_parents(context: CheckContext) -> None:
    """move puts the content at the destination (creating its parents) and removes the source."""
    driver, source, destination = context.driver, context.path("src", "file"), context.path("new", "deep", "file")
    content = context.data(5000)
    driver.put_content(source, content)
    driver.move(source, destination)
    _expect_files(context, {destination: content}, "after move")
    _expect_missing(context, source, "after move")
    expect_sequence(driver.list(context.path("new", "deep")), [destination], "list(<root>/new/deep) after move")


@group.check
def move_overwrites_an_existing_destination(context: CheckContext) -> None:
    """move onto an existing file replaces its content with the source's (a longer file is cut, not merged)."""
    driver, source, destination = context.driver, context.path("src"), context.path("dst")
    content = context.data(100)
    driver.put_content(source, content)
    driver.put_content(destination, context.data(5000))
    driver.move(source, destination)
    _expect_files(context, {destination: content}, "after move onto it")
    expect_equal(driver.stat(destination).size, len(content), f"stat({destination!r}).size after move")
    _expect_missing(context, source, "after move")


@group.check
def move_onto_itself_keeps_the_file(context: CheckContext) -> None:
    """move of a file onto its own path succeeds and changes nothing; of a missing path it raises PathNotFoundError."""
    driver, path = context.driver, context.path("same")
    content = context.data(300)
    driver.put_content(path, content)
    driver.move(path, path)
    _expect_files(context, {path: content}, "after moving it onto itself")
    absent = context.path("absent")
    error = expect_raises(PathNotFoundError, lambda: driver.move(absent, absent), f"move({absent!r}, {absent!r})")
    expect_equal(error.path, absent, "PathNotFoundError.path")


@group.check
def move_of_a_missing_source_raises_path_not_found_and_leaves_the_destination(context: CheckContext) -> None:
    """move of a missing source raises PathNotFoundError(source); an existing destination keeps its content."""
    driver, source, destination = context.driver, context.path("absent"), context.path("dst")
    content = context.data(64)
    driver.put_content(destination, content)
    error = expect_raises(PathNotFoundError, lambda: driver.move(source, destination), f"move({source!r}, ...)")
    expect_equal(error.path, source, "PathNotFoundError.path (the source)")
    _expect_files(context, {destination: content}, "after the failed move")
    fresh = context.path("fresh")
    expect_raises(PathNotFoundError, lambda: driver.move(source, fresh), f"move({source!r}, {fresh!r})")
    _expect_missing(context, fresh, "after the failed move to it")


@group.check
def move_of_a_directory_raises_path_conflict_and_changes_nothing(context: CheckContext) -> None:
    """move of a directory raises PathConflictError before anything changes: nothing moves, nothing is created."""
    driver, directory, destination = context.driver, context.path("dir"), context.path("dst")
    contents = {context.path("dir", "a"): context.data(10), context.path("dir", "sub", "b"): context.data(20)}
    for path, content in contents.items():
        driver.put_content(path, content)
    expect_raises(PathConflictError, lambda: driver.move(directory, destination), f"move({directory!r}, ...)")
    _expect_files(context, contents, "after the refused move")
    _expect_missing(context, destination, "after the refused move")
    expect_sequence(driver.list(context.root), [directory], "list(<root>) after the refused move")


@group.check
def move_onto_a_directory_raises_path_conflict_and_changes_nothing(context: CheckContext) -> None:
    """move onto a directory raises PathConflictError before anything changes: the source and the directory stay."""
    driver, source, directory = context.driver, context.path("src"), context.path("dir")
    contents = {source: context.data(10), context.path("dir", "inner"): context.data(20)}
    for path, content in contents.items():
        driver.put_content(path, content)
    expect_raises(PathConflictError, lambda: driver.move(source, directory), f"move(..., {directory!r})")
    _expect_files(context, contents, "after the refused move")
    expect_equal(driver.stat(directory).is_dir, True, f"stat({directory!r}).is_dir after the refused move")
    expect_sequence(
        driver.list(directory), [context.path("dir", "inner")], f"list({directory!r}) after the refused move"
    )


@group.check
def move_below_a_file_raises_path_conflict_and_changes_nothing(context: CheckContext) -> None:
    """move to a destination below an existing file raises PathConflictError; the source and the file stay."""
    driver, source, file = context.driver, context.path("src"), context.path("file")
    contents = {source: context.data(10), file: context.data(20)}
    for path, content in contents.items():
        driver.put_content(path, content)
    for destination in (f"{file}/child", f"{file}/deeper/child"):
        expect_raises(PathConflictError, partial(driver.move, source, destination), f"move(..., {destination!r})")
        _expect_files(context, contents, f"after the refused move to {destination}")
        expect_equal(driver.stat(file).is_dir, False, f"stat({file!r}).is_dir after the refused move")


# -- delete ----------------------------------------------------------------------------------------------------


@group.check
def delete_removes_a_file_and_nothing_else(context: CheckContext) -> None:
    """delete of a file removes it; its sibling stays."""
    driver, file, sibling = context.driver, context.path("file"), context.path("sibling")
    driver.put_content(file, b"x")
    driver.put_content(sibling, b"y")
    driver.delete(file)
    _expect_missing(context, file, "after delete")
    expect_raises(PathNotFoundError, lambda: driver.get_content(file), f"get_content({file!r}) after delete")
    _expect_files(context, {sibling: b"y"}, "after deleting its sibling")
    expect_sequence(driver.list(context.root), [sibling], "list(<root>) after delete")


@group.check
def delete_of_a_directory_removes_everything_below(context: CheckContext) -> None:
    """delete of a directory removes every file and directory below it, at any depth."""
    driver, directory, keep = context.driver, context.path("dir"), context.path("keep")
    below = [context.path("dir", "a"), context.path("dir", "b", "c"), context.path("dir", "b", "d", "e", "f")]
    for path in [*below, keep]:
        driver.put_content(path, b"x")
    driver.delete(directory)
    for path in [directory, *below, context.path("dir", "b")]:
        _expect_missing(context, path, f"after delete({directory!r})")
    expect_sequence(driver.list(context.root), [keep], "list(<root>) after deleting a directory")


@group.check
def delete_of_a_missing_path_raises_path_not_found(context: CheckContext) -> None:
    """delete of a missing path (or of a path below a file) raises PathNotFoundError carrying that path."""
    driver, file = context.driver, context.path("file")
    driver.put_content(file, b"x")
    for path in (context.path("absent"), context.path("absent", "deeper"), f"{file}/child", context.top("absent")):
        error = expect_raises(PathNotFoundError, partial(driver.delete, path), f"delete({path!r})")
        expect_equal(error.path, path, f"PathNotFoundError.path from delete({path!r})")
    _expect_files(context, {file: b"x"}, "after the failed deletes")


@group.check
def delete_leaves_paths_sharing_a_prefix(context: CheckContext) -> None:
    """delete of ``/a`` (a file or a directory) never touches ``/ab``, at the top level or deeper."""
    driver = context.driver
    cases = [  # (/a, what /a holds, /ab, a file /ab-file beside them)
        (context.top("a"), context.top("a") + "/f", context.top("ab"), context.top("ab-file")),
        (context.path("x", "a"), context.path("x", "a", "f"), context.path("x", "ab"), context.path("x", "ab-file")),
        (context.path("y", "a"), context.path("y", "a"), context.path("y", "ab"), context.path("y", "ab-file")),
    ]
    kept: dict[str, bytes] = {}
    for short, short_file, long, long_file in cases:
        driver.put_content(short_file, b"short")
        kept[f"{long}/f"] = context.data(16)
        kept[long_file] = context.data(16)
        for path in (f"{long}/f", long_file):
            driver.put_content(path, kept[path])
        driver.delete(short)
        _expect_missing(context, short, f"after delete({short!r})")
        _expect_files(context, kept, f"after delete({short!r})")
    expect_sequence(driver.list(context.path("x")), [context.path("x", "ab"), context.path("x", "ab-file")], "list(x)")


# -- directories exist only through what is below them ----------------------------------------------------------


@group.check
def directories_disappear_after_their_last_file_is_deleted(context: CheckContext) -> None:
    """Deleting the last file below a directory makes the directory, and every emptied parent, disappear."""
    driver = context.driver
    deep, keep = context.path("a", "b", "c", "file"), context.path("keep")
    driver.put_content(deep, b"x")
    driver.put_content(keep, b"y")
    driver.delete(deep)
    for directory in (context.path("a", "b", "c"), context.path("a", "b"), context.path("a")):
        _expect_missing(context, directory, f"after deleting the last file below it ({deep})")
    expect_sequence(driver.list(context.root), [keep], "list(<root>) after deleting <root>/a/b/c/file")
    driver.delete(keep)
    _expect_missing(context, context.root, "after deleting its last file")
    expect_equal(context.root in driver.list("/"), False, f'{context.root!r} in list("/") after its last file went')


@group.check
def directories_disappear_after_their_last_file_is_moved_away(context: CheckContext) -> None:
    """Moving the last file out of a directory makes the directory, and every emptied parent, disappear."""
    driver = context.driver
    source, destination = context.path("a", "b", "file"), context.path("z", "file")
    driver.put_content(source, b"x")
    driver.move(source, destination)
    for directory in (context.path("a", "b"), context.path("a")):
        _expect_missing(context, directory, "after moving its last file away")
    expect_sequence(driver.list(context.root), [context.path("z")], "list(<root>) after the move")
