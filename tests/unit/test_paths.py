"""The path rules and the path helpers of registry_storage.paths."""

from __future__ import annotations

import pytest

from registry_storage.errors import InvalidPathError
from registry_storage.paths import (
    MAX_COMPONENT_LENGTH,
    ROOT,
    ancestors,
    check_path,
    directory_prefix,
    is_valid_path,
    is_within,
    join,
    leading_directories,
    parent,
)

VALID = [
    "/a",
    "/abc/def",
    "/A-Z_a-z.0-9",
    "/.hidden",
    "/a..b",
    "/...",
    "/_/-/.x",
    "/docker/registry/v2/blobs/sha256/ab/abcdef/data",
    "/" + "x" * MAX_COMPONENT_LENGTH,
]

INVALID = {
    "empty": "",
    "root": "/",
    "relative": "abc",
    "double slash": "//a",
    "inner double slash": "/a//b",
    "trailing slash": "/a/",
    "dot dot": "/a/../b",
    "leading dot dot": "/..",
    "dot": "/./a",
    "trailing dot": "/a/.",
    "nul": "/a\0b",
    "space": "/a b",
    "unicode": "/caf\u00e9",
    "backslash": "/a\\b",
    "colon": "/a:b",
    "newline": "/a\n",
    "too long component": "/" + "x" * 300,
    "one too long": "/a/" + "x" * (MAX_COMPONENT_LENGTH + 1),
}


@pytest.mark.parametrize("path", VALID)
def test_valid_paths_are_returned_unchanged(path: str) -> None:
    assert check_path(path) is path
    assert is_valid_path(path)


@pytest.mark.parametrize("path", list(INVALID.values()), ids=list(INVALID))
def test_invalid_paths_raise_invalid_path_error_naming_the_path(path: str) -> None:
    with pytest.raises(InvalidPathError) as caught:
        check_path(path)
    assert caught.value.path == path
    assert caught.value.reason
    assert not is_valid_path(path)


@pytest.mark.parametrize("path", [None, b"/a", 5, ["/a"]])
def test_a_path_that_is_not_a_string_is_invalid(path: object) -> None:
    with pytest.raises(InvalidPathError, match="string"):
        check_path(path)


def test_the_root_is_accepted_only_when_allowed() -> None:
    assert check_path(ROOT, allow_root=True) == ROOT
    assert is_valid_path(ROOT, allow_root=True)
    with pytest.raises(InvalidPathError, match="root"):
        check_path(ROOT)


def test_allowing_the_root_admits_nothing_else() -> None:
    for path in INVALID.values():
        if path != ROOT:
            assert not is_valid_path(path, allow_root=True), path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("a", "start with '/'"),
        ("/a//b", "empty path component"),
        ("/a/..", "'..'"),
        ("/" + "x" * 256, "longer than 255"),
        ("/a b", "A-Z"),
    ],
)
def test_the_reason_says_which_rule_is_broken(path: str, reason: str) -> None:
    with pytest.raises(InvalidPathError) as caught:
        check_path(path)
    assert reason in caught.value.reason
    assert reason in str(caught.value)


def test_parent() -> None:
    assert parent("/a/b/c") == "/a/b"
    assert parent("/a") == ROOT
    assert parent(ROOT) == ROOT


def test_join() -> None:
    assert join(ROOT, "a") == "/a"
    assert join("/a", "b") == "/a/b"


def test_ancestors_go_from_the_nearest_to_the_root() -> None:
    assert ancestors("/a/b/c") == ["/a/b", "/a", ROOT]
    assert ancestors("/a") == [ROOT]
    assert ancestors(ROOT) == []


def test_is_within_never_confuses_a_prefix_of_a_name() -> None:
    assert is_within("/a", "/a")
    assert is_within("/a/b", "/a")
    assert not is_within("/ab", "/a")
    assert not is_within("/a", "/a/b")
    assert is_within("/anything", ROOT)


def test_directory_prefix() -> None:
    assert directory_prefix(ROOT) == "/"
    assert directory_prefix("/a") == "/a/"
    assert not "/ab".startswith(directory_prefix("/a"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/b/c", ["a", "a/b"]),
        ("a/b/", ["a", "a/b"]),
        ("a", []),
        ("", []),
        ("a/with space/c", ["a"]),
        ("a//b", ["a"]),
        ("../a/b", []),
    ],
)
def test_leading_directories_stop_at_the_first_invalid_component(name: str, expected: list[str]) -> None:
    assert leading_directories(name) == expected
