"""``ls``, ``stat``, ``cat`` and ``du`` against every local store, in process and out of process."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.cli.conftest import Cli, Store

TREE = {
    "/docker/registry/v2/blobs/sha256/ab/abcd/data": b"layer-bytes" * 100,
    "/docker/registry/v2/repositories/hello/_manifests/tags/latest/current/link": b"sha256:abcd",
    "/docker/registry/v2/repositories/hello/_uploads/u1/data": b"",
    "/top": b"x",
}
NOT_FOUND = 3


def test_ls_lists_the_children_of_the_root_by_default(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("ls", *store.options())
    assert outcome.status == 0, outcome.stderr
    assert outcome.text.splitlines() == ["/docker", "/top"]


def test_ls_of_a_directory_lists_its_direct_children(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("ls", *store.options(), "/docker/registry/v2/repositories/hello/")
    assert outcome.status == 0, outcome.stderr
    assert outcome.text.splitlines() == [
        "/docker/registry/v2/repositories/hello/_manifests",
        "/docker/registry/v2/repositories/hello/_uploads",
    ]


def test_ls_long_shows_type_size_and_modification_time(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("ls", "-l", *store.options(), "/")
    assert outcome.status == 0, outcome.stderr
    rows = [line.split() for line in outcome.text.splitlines()]
    assert [(row[0], row[1], row[4]) for row in rows] == [("d", "-", "/docker"), ("-", "1", "/top")]
    stamp = " ".join(rows[1][2:4])
    expected = store.driver.stat("/top").mod_time.strftime("%Y-%m-%d %H:%M:%S")
    assert stamp == expected


def test_ls_recursive_lists_every_descendant_parent_first(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("ls", "-R", *store.options(), "/docker/registry/v2/repositories")
    assert outcome.status == 0, outcome.stderr
    expected = [entry.path for entry in store.driver.walk("/docker/registry/v2/repositories")]
    assert outcome.text.splitlines() == expected
    assert "/docker/registry/v2/repositories/hello/_uploads/u1/data" in expected


def test_ls_json_describes_each_entry(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("ls", "--json", "-R", *store.options(), "/docker/registry/v2/blobs")
    assert outcome.status == 0, outcome.stderr
    entries = outcome.json()
    by_path = {entry["path"]: entry for entry in entries}
    data = by_path["/docker/registry/v2/blobs/sha256/ab/abcd/data"]
    assert data["type"] == "file"
    assert data["size"] == 1100
    assert datetime.fromisoformat(data["mod_time"].replace("Z", "+00:00")) == store.driver.stat(data["path"]).mod_time
    assert by_path["/docker/registry/v2/blobs/sha256"]["type"] == "directory"


def test_ls_of_a_file_shows_the_file(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("ls", "-l", *store.options(), "/top")
    assert outcome.status == 0, outcome.stderr
    assert outcome.text.split()[0:2] == ["-", "1"]
    assert outcome.text.split()[-1] == "/top"


def test_ls_of_an_empty_store_prints_nothing(cli: Cli, store: Store) -> None:
    outcome = cli("ls", *store.options())
    assert (outcome.status, outcome.stdout) == (0, b"")


def test_ls_of_a_missing_path_exits_3_with_one_line(cli: Cli, store: Store) -> None:
    outcome = cli("ls", *store.options(), "/nothing/here")
    assert outcome.status == NOT_FOUND
    assert outcome.stderr.splitlines() == [f"registry-storage: {store.kind}: path not found: /nothing/here"]


def test_stat_describes_a_file(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("stat", *store.options(), "/docker/registry/v2/blobs/sha256/ab/abcd/data")
    assert outcome.status == 0, outcome.stderr
    lines = dict(line.split(":", 1) for line in outcome.text.splitlines())
    assert lines["type"].strip() == "file"
    assert lines["size"].strip() == "1100 (1.1 KiB)"


def test_stat_json_describes_a_directory(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("stat", "--json", *store.options(), "/docker")
    assert outcome.status == 0, outcome.stderr
    document = outcome.json()
    assert (document["path"], document["type"], document["size"]) == ("/docker", "directory", 0)


def test_stat_of_a_missing_path_exits_3(cli: Cli, store: Store) -> None:
    outcome = cli("stat", *store.options(), "/missing")
    assert outcome.status == NOT_FOUND
    assert "path not found: /missing" in outcome.stderr


def test_cat_prints_files_in_order(cli: Cli, store: Store) -> None:
    content = bytes(range(256)) * 5000
    store.seed({"/a": content, "/b": b"tail"})
    outcome = cli("cat", *store.options(), "/a", "/b")
    assert outcome.status == 0, outcome.stderr
    assert outcome.stdout == content + b"tail"


def test_cat_of_a_directory_or_missing_file_exits_3(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    assert cli("cat", *store.options(), "/docker").status == NOT_FOUND
    assert cli("cat", *store.options(), "/missing").status == NOT_FOUND


def test_du_totals_bytes_and_files(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    outcome = cli("du", *store.options())
    assert outcome.status == 0, outcome.stderr
    total = sum(len(content) for content in TREE.values())
    assert outcome.text.split("\t") == [str(total), "1.1 KiB", "4 files", "/\n"]


def test_du_json_of_a_directory_and_of_a_file(cli: Cli, store: Store) -> None:
    store.seed(TREE)
    directory = cli("du", "--json", *store.options(), "/docker/registry/v2/repositories").json()
    assert directory == {"path": "/docker/registry/v2/repositories", "bytes": 11, "files": 2}
    single = cli("du", "--json", *store.options(), "/top").json()
    assert single == {"path": "/top", "bytes": 1, "files": 1}


def test_du_of_a_missing_path_exits_3(cli: Cli, store: Store) -> None:
    assert cli("du", *store.options(), "/missing").status == NOT_FOUND
