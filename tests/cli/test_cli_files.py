"""``get``, ``put``, ``mv`` and ``rm`` against every local store, in process and out of process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.cli.conftest import Cli, Store

NOT_FOUND = 3
FAILURE = 1
USAGE = 2
BLOB = bytes(range(256)) * 9000


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """An empty local directory for the files the commands read and write."""
    directory = tmp_path / "local"
    directory.mkdir()
    return directory


def test_get_writes_a_local_file(cli: Cli, store: Store, local: Path) -> None:
    store.seed({"/blobs/data": BLOB})
    target = local / "copy"
    outcome = cli("get", *store.options(), "/blobs/data", str(target))
    assert (outcome.status, outcome.stdout, outcome.stderr) == (0, b"", "")
    assert target.read_bytes() == BLOB
    assert not (local / "copy.part").exists()


def test_get_into_a_directory_keeps_the_name(cli: Cli, store: Store, local: Path) -> None:
    store.seed({"/blobs/data": BLOB})
    outcome = cli("get", "--json", *store.options(), "/blobs/data", str(local))
    assert outcome.status == 0, outcome.stderr
    assert outcome.json() == {"path": "/blobs/data", "local": str(local / "data"), "bytes": len(BLOB)}
    assert (local / "data").read_bytes() == BLOB


def test_get_to_stdout(cli: Cli, store: Store) -> None:
    store.seed({"/blobs/data": BLOB})
    outcome = cli("get", *store.options(), "/blobs/data", "-")
    assert (outcome.status, outcome.stdout) == (0, BLOB)


def test_get_of_a_missing_file_exits_3_and_leaves_nothing(cli: Cli, store: Store, local: Path) -> None:
    outcome = cli("get", *store.options(), "/missing", str(local / "x"))
    assert outcome.status == NOT_FOUND
    assert os.listdir(local) == []


def test_get_of_a_directory_fails(cli: Cli, store: Store, local: Path) -> None:
    store.seed({"/blobs/data": BLOB})
    outcome = cli("get", *store.options(), "/blobs", str(local / "x"))
    assert outcome.status == FAILURE
    assert outcome.stderr == "registry-storage: /blobs is a directory; copy a tree with cp -r or sync\n"


def test_put_uploads_a_local_file(cli: Cli, store: Store, local: Path) -> None:
    local = local / "layer"
    local.write_bytes(BLOB)
    outcome = cli("put", "--json", *store.options(), str(local), "/uploads/layer")
    assert outcome.status == 0, outcome.stderr
    assert outcome.json() == {"path": "/uploads/layer", "bytes": len(BLOB)}
    assert store.files() == {"/uploads/layer": BLOB}


def test_put_from_stdin_replaces_the_content(cli: Cli, store: Store) -> None:
    store.seed({"/tag": b"a much longer old content"})
    outcome = cli("put", *store.options(), "-", "/tag", stdin=b"sha256:new")
    assert (outcome.status, outcome.stdout) == (0, b"")
    assert store.files() == {"/tag": b"sha256:new"}


def test_put_of_a_missing_local_file_exits_3(cli: Cli, store: Store, local: Path) -> None:
    outcome = cli("put", *store.options(), str(local / "nope"), "/x")
    assert outcome.status == NOT_FOUND
    assert outcome.stderr == f"registry-storage: no such local file: {local / 'nope'}\n"
    assert not store.exists("/x")


def test_mv_moves_a_file(cli: Cli, store: Store) -> None:
    store.seed({"/uploads/u1": BLOB, "/keep": b"k"})
    outcome = cli("mv", *store.options(), "/uploads/u1", "/blobs/sha256/ab")
    assert outcome.status == 0, outcome.stderr
    assert store.files() == {"/blobs/sha256/ab": BLOB, "/keep": b"k"}


def test_mv_moves_a_directory_to_a_new_path(cli: Cli, store: Store) -> None:
    store.seed({"/repo/a": b"1", "/repo/sub/b": b"2", "/repository": b"3"})
    outcome = cli("mv", "--json", *store.options(), "/repo", "/archive/repo")
    assert outcome.status == 0, outcome.stderr
    assert store.files() == {"/archive/repo/a": b"1", "/archive/repo/sub/b": b"2", "/repository": b"3"}
    assert outcome.json() == {
        "moved": [
            {"source": "/repo/a", "destination": "/archive/repo/a"},
            {"source": "/repo/sub/b", "destination": "/archive/repo/sub/b"},
        ]
    }


@pytest.mark.parametrize("destination", ["/other", "/repo/inside"])
def test_mv_of_a_directory_onto_something_or_into_itself_changes_nothing(
    cli: Cli, store: Store, destination: str
) -> None:
    files = {"/repo/a": b"1", "/other/b": b"2"}
    store.seed(files)
    outcome = cli("mv", *store.options(), "/repo", destination)
    assert outcome.status == FAILURE
    assert outcome.stderr.startswith("registry-storage: ")
    assert store.files() == files


def test_mv_of_a_missing_file_exits_3(cli: Cli, store: Store) -> None:
    assert cli("mv", *store.options(), "/missing", "/x").status == NOT_FOUND


def test_rm_deletes_files(cli: Cli, store: Store) -> None:
    store.seed({"/a": b"1", "/ab": b"2", "/c": b"3"})
    outcome = cli("rm", *store.options(), "/a", "/c")
    assert outcome.status == 0, outcome.stderr
    assert store.files() == {"/ab": b"2"}


def test_rm_of_a_directory_needs_r_and_checks_before_deleting(cli: Cli, store: Store) -> None:
    files = {"/a": b"1", "/dir/b": b"2"}
    store.seed(files)
    outcome = cli("rm", *store.options(), "/a", "/dir")
    assert outcome.status == FAILURE
    assert outcome.stderr == "registry-storage: /dir is a directory; use rm -r to delete it and everything below it\n"
    assert store.files() == files
    outcome = cli("rm", "-r", "--json", *store.options(), "/a", "/dir")
    assert outcome.status == 0, outcome.stderr
    assert outcome.json() == {"removed": ["/a", "/dir"]}
    assert store.files() == {}


def test_rm_of_a_missing_path_exits_3_and_deletes_nothing(cli: Cli, store: Store) -> None:
    store.seed({"/a": b"1"})
    assert cli("rm", *store.options(), "/a", "/missing").status == NOT_FOUND
    assert store.files() == {"/a": b"1"}


def test_rm_refuses_the_root(cli: Cli, store: Store) -> None:
    store.seed({"/a": b"1"})
    outcome = cli("rm", "-r", *store.options(), "/")
    assert outcome.status == FAILURE
    assert store.files() == {"/a": b"1"}


def test_an_invalid_path_is_a_usage_error(cli: Cli, store: Store) -> None:
    outcome = cli("rm", *store.options(), "/a/../b")
    assert outcome.status == USAGE
    assert len(outcome.stderr.splitlines()) == 1
    assert outcome.stderr.startswith("registry-storage: rm: argument PATH: invalid path '/a/../b': component '..'")
