"""``cp`` and ``sync`` within one store and between two drivers, for every local store in and out of process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import registry_storage

if TYPE_CHECKING:
    from tests.cli.conftest import Cli, Store

NOT_FOUND = 3
FAILURE = 1
USAGE = 2
BIG = bytes(range(256)) * 12_000  # about 3 MiB: several chunks
TREE = {
    "/repo/blobs/big": BIG,
    "/repo/blobs/small": b"small",
    "/repo/empty": b"",
    "/repo/tags/latest": b"sha256:abc",
}


def test_cp_copies_a_file_within_one_store(cli: Cli, store: Store) -> None:
    store.seed({"/a/b": BIG})
    outcome = cli("cp", *store.options(), "/a/b", "/c/d")
    assert (outcome.status, outcome.stdout, outcome.stderr) == (0, b"", "")
    assert store.files() == {"/a/b": BIG, "/c/d": BIG}


def test_cp_r_copies_a_tree_within_one_store(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("cp", "-r", "--json", *store.options(), "/repo", "/copy")
    assert outcome.status == 0, outcome.stderr
    assert store.files("/copy") == {path.replace("/repo", "/copy", 1): content for path, content in TREE.items()}
    document = outcome.json()
    assert (document["copied"], document["bytes"], document["verified"]) == (4, len(BIG) + 15, True)


def test_cp_r_into_the_store_from_another_driver(cli: Cli, store: Store, other_store: Store) -> None:
    other_store.seed(TREE)
    outcome = cli("cp", "-r", *other_store.options("from-"), *store.options("to-"), "/repo", "/mirror/repo")
    assert outcome.status == 0, outcome.stderr
    assert store.files() == {"/mirror" + path: content for path, content in TREE.items()}


def test_cp_out_of_the_store_to_another_driver(cli: Cli, store: Store, other_store: Store) -> None:
    store.seed(TREE)
    outcome = cli("cp", *store.options("from-"), *other_store.options("to-"), "/repo/blobs/big", "/big")
    assert outcome.status == 0, outcome.stderr
    assert other_store.files() == {"/big": BIG}


def test_cp_replaces_a_longer_destination(cli: Cli, store: Store) -> None:
    store.seed({"/a": b"new", "/b": b"an old and longer content"})
    assert cli("cp", *store.options(), "/a", "/b").status == 0
    assert store.files() == {"/a": b"new", "/b": b"new"}


def test_cp_of_a_directory_needs_r(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("cp", *store.options(), "/repo", "/copy")
    assert outcome.status == FAILURE
    assert "use cp -r" in outcome.stderr
    assert not store.exists("/copy")


def test_cp_into_itself_is_refused(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("cp", "-r", *store.options(), "/repo", "/repo/again")
    assert outcome.status == FAILURE
    assert outcome.stderr == "registry-storage: /repo and /repo/again overlap in the same store\n"
    assert store.files() == TREE


def test_cp_of_a_missing_source_exits_3(cli: Cli, store: Store) -> None:
    assert cli("cp", *store.options(), "/missing", "/x").status == NOT_FOUND


def test_sync_copies_what_is_missing_or_differs_in_size(cli: Cli, store: Store, other_store: Store) -> None:
    other_store.seed(TREE)
    store.seed(
        {
            "/repo/tags/latest": b"sha256:xyz",  # same size, different bytes: taken as up to date
            "/repo/blobs/big": b"PARTIAL",  # shorter: resumed from its size, keeping its first bytes
            "/repo/blobs/small": b"longer than the source",  # longer: copied again in full
            "/unrelated": b"kept",
        }
    )
    outcome = cli("sync", "--json", *other_store.options("from-"), *store.options("to-"), "/", "/")
    assert outcome.status == 0, outcome.stderr
    document = outcome.json()
    assert (document["copied"], document["resumed"], document["up_to_date"]) == (3, 1, 1)
    assert document["bytes"] == len(BIG) - 7 + 5 + 0
    assert store.files() == {
        "/repo/blobs/big": b"PARTIAL" + BIG[7:],
        "/repo/blobs/small": b"small",
        "/repo/empty": b"",
        "/repo/tags/latest": b"sha256:xyz",
        "/unrelated": b"kept",
    }
    offsets = {item["destination"]: item["offset"] for item in document["files"]}
    assert offsets == {"/repo/blobs/big": 7, "/repo/blobs/small": 0, "/repo/empty": 0}


def test_sync_twice_copies_nothing_the_second_time(cli: Cli, store: Store, other_store: Store) -> None:
    store.seed(TREE)
    options = [*store.options("from-"), *other_store.options("to-"), "/repo", "/backup"]
    first = cli("sync", *options)
    assert first.status == 0, first.stderr
    assert first.text.startswith("sync: copied 4 files, ")
    assert first.text.endswith("; 0 up to date; sizes verified\n")
    second = cli("sync", *options)
    assert (second.status, second.text) == (0, "sync: everything up to date (4 files); sizes verified\n")
    assert other_store.files() == {path.replace("/repo", "/backup", 1): content for path, content in TREE.items()}


def test_sync_with_parallel_jobs(cli: Cli, store: Store, other_store: Store) -> None:
    files = {f"/layers/{index:02d}/data": bytes([index]) * (index * 70_001) for index in range(24)}
    other_store.seed(files)
    outcome = cli("sync", "--jobs", "6", "-q", *other_store.options("from-"), *store.options("to-"), "/", "/")
    assert (outcome.status, outcome.stdout, outcome.stderr) == (0, b"", "")
    assert store.files() == files


def test_sync_dry_run_copies_nothing(cli: Cli, store: Store, other_store: Store) -> None:
    other_store.seed({"/a": b"12345", "/b": b"xy"})
    store.seed({"/a": b"12"})
    outcome = cli("sync", "-n", *other_store.options("from-"), *store.options("to-"), "/", "/")
    assert outcome.status == 0, outcome.stderr
    assert outcome.text.splitlines() == [
        "resume /a -> /a from byte 2 of 5",
        "copy   /b -> /b (2 bytes)",
        "would copy 2 files, 5 B; 0 up to date",
    ]
    assert store.files() == {"/a": b"12"}


def test_sync_within_one_store_to_a_separate_path(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("sync", *store.options(), "/repo", "/backup")
    assert outcome.status == 0, outcome.stderr
    assert store.files("/backup") == {path.replace("/repo", "/backup", 1): content for path, content in TREE.items()}


def test_sync_of_a_missing_source_exits_3(cli: Cli, store: Store, other_store: Store) -> None:
    outcome = cli("sync", *store.options("from-"), *other_store.options("to-"), "/missing", "/")
    assert outcome.status == NOT_FOUND


@pytest.mark.parametrize("out_of_process", [False, True], ids=["in-process", "out-of-process"])
def test_one_driver_with_a_parameter_per_side(
    cli: Cli, other_store: Store, tmp_path: Path, out_of_process: bool
) -> None:
    with registry_storage.create("filesystem", {"rootdirectory": str(tmp_path / "first")}) as first:
        for path, content in TREE.items():
            first.put_content(path, content)
    outcome = cli(
        "sync",
        "--driver",
        "filesystem",
        *(["--out-of-process"] if out_of_process else []),
        "--from-param",
        f"rootdirectory={tmp_path / 'first'}",
        "--to-param",
        f"rootdirectory={other_store.parameters['rootdirectory']}",
        "/",
        "/",
    )
    assert outcome.status == 0, outcome.stderr
    assert other_store.files() == TREE


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--from-driver", "inmemory"], "choose the destination driver with --to-driver, --to-exec or --to-config"),
        (["--to-driver", "inmemory"], "choose the source driver with --from-driver, --from-exec or --from-config"),
        (["--from-driver", "inmemory", "--from-exec", "/bin/true"], "choose one of --from-driver, --from-exec"),
    ],
)
def test_each_side_needs_one_driver(cli: Cli, options: list[str], message: str) -> None:
    outcome = cli("sync", *options, "/", "/x")
    assert outcome.status == USAGE
    assert outcome.stderr.startswith(f"registry-storage: {message}")
    assert len(outcome.stderr.splitlines()) == 1
