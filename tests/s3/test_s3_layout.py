"""How the S3 driver maps its tree onto keys: common prefixes, pagination, prefix confusion, placeholders, root."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.errors import PathNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MANY = 1100
"""More keys than one ListObjectsV2 page or one DeleteObjects batch holds (1,000)."""


def _keys(s3_admin: S3Client, bucket: str) -> list[str]:
    paginator = s3_admin.get_paginator("list_objects_v2")
    return [entry["Key"] for page in paginator.paginate(Bucket=bucket) for entry in page.get("Contents", [])]


def _put_keys(s3_admin: S3Client, bucket: str, keys: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3_admin.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))


def test_a_directory_of_more_than_one_page_lists_walks_and_deletes_whole(
    s3_driver: StorageDriver, s3_admin: S3Client, bucket: str
) -> None:
    names = [f"file-{index:05d}" for index in range(MANY)]
    _put_keys(s3_admin, bucket, [f"big/{name}" for name in names] + ["bigger/keep"])

    assert s3_driver.list("/big") == [f"/big/{name}" for name in names]
    assert [info.path for info in s3_driver.walk("/big")] == [f"/big/{name}" for name in names]
    assert s3_driver.stat("/big").is_dir

    s3_driver.delete("/big")
    assert _keys(s3_admin, bucket) == ["bigger/keep"]
    with pytest.raises(PathNotFoundError):
        s3_driver.stat("/big")


def test_a_prefix_without_its_slash_is_never_trusted(s3_driver: StorageDriver) -> None:
    for path in ("/a/x", "/ab/x", "/a-b/x", "/a.b", "/b", "/bc/x"):
        s3_driver.put_content(path, path.encode())

    assert s3_driver.list("/") == ["/a", "/a-b", "/a.b", "/ab", "/b", "/bc"]
    assert s3_driver.list("/a") == ["/a/x"]
    assert [info.path for info in s3_driver.walk("/a")] == ["/a/x"]
    assert s3_driver.stat("/b").size == 2
    assert not s3_driver.stat("/b").is_dir
    with pytest.raises(PathNotFoundError):
        s3_driver.stat("/c")
    with pytest.raises(PathNotFoundError):
        s3_driver.list("/b")

    s3_driver.delete("/a")
    s3_driver.delete("/b")
    assert s3_driver.list("/") == ["/a-b", "/a.b", "/ab", "/bc"]
    with pytest.raises(PathNotFoundError):
        s3_driver.delete("/a")


def test_walk_is_depth_first_although_s3_sorts_dash_and_dot_before_slash(s3_driver: StorageDriver) -> None:
    files = ["/w/a/b", "/w/a-b/c", "/w/a.b", "/w/a/b-c/d", "/w/a/b.c", "/w/a/b/e", "/w/z"]
    for path in files:
        if path != "/w/a/b":
            s3_driver.put_content(path, b"x")

    walked = [(info.path, info.is_dir) for info in s3_driver.walk("/")]

    assert walked == [
        ("/w", True),
        ("/w/a", True),
        ("/w/a/b", True),
        ("/w/a/b/e", False),
        ("/w/a/b-c", True),
        ("/w/a/b-c/d", False),
        ("/w/a/b.c", False),
        ("/w/a-b", True),
        ("/w/a-b/c", False),
        ("/w/a.b", False),
        ("/w/z", False),
    ]


def test_folder_placeholders_are_directories(s3_driver: StorageDriver, s3_admin: S3Client, bucket: str) -> None:
    for key in ("docs/", "docs/guide/", "empty/", "empty/inner/", "lone/"):
        s3_admin.put_object(Bucket=bucket, Key=key, Body=b"")
    s3_driver.put_content("/docs/guide/intro", b"hello")

    assert s3_driver.list("/") == ["/docs", "/empty", "/lone"]
    assert s3_driver.list("/docs") == ["/docs/guide"]
    assert s3_driver.list("/docs/guide") == ["/docs/guide/intro"]
    assert s3_driver.list("/empty") == ["/empty/inner"]
    assert s3_driver.list("/empty/inner") == []
    assert s3_driver.list("/lone") == []
    walked = [(info.path, info.is_dir) for info in s3_driver.walk("/")]
    assert walked == [
        ("/docs", True),
        ("/docs/guide", True),
        ("/docs/guide/intro", False),
        ("/empty", True),
        ("/empty/inner", True),
        ("/lone", True),
    ]
    for directory in ("/docs", "/docs/guide", "/empty", "/empty/inner", "/lone"):
        info = s3_driver.stat(directory)
        assert (info.is_dir, info.size) == (True, 0)
        with pytest.raises(PathNotFoundError):
            s3_driver.get_content(directory)
    assert list(s3_driver.walk("/lone")) == []
    with pytest.raises(registry_storage.StorageDriverError):
        s3_driver.put_content("/lone", b"a file where a folder is")

    s3_driver.delete("/empty")
    s3_driver.delete("/docs")
    assert sorted(_keys(s3_admin, bucket)) == ["lone/"]
    with pytest.raises(PathNotFoundError):
        s3_driver.stat("/empty")


def test_keys_that_are_not_valid_paths_are_skipped(s3_driver: StorageDriver, s3_admin: S3Client, bucket: str) -> None:
    _put_keys(s3_admin, bucket, ["d/ok", "d/with space", "d//double", "d/../up", "d/caf\u00e9", "d/sub/caf\u00e9"])

    assert s3_driver.list("/d") == ["/d/ok", "/d/sub"]  # S3 reports the common prefix d/sub/
    assert [(info.path, info.is_dir) for info in s3_driver.walk("/d")] == [("/d/ok", False), ("/d/sub", True)]
    assert s3_driver.stat("/d/sub").is_dir
    assert s3_driver.list("/d/sub") == []
    s3_driver.delete("/d/sub")
    assert "d/sub/caf\u00e9" not in _keys(s3_admin, bucket)


def test_the_root_directory_is_a_key_prefix_nothing_escapes(
    s3_parameters: dict[str, Any], s3_admin: S3Client, bucket: str
) -> None:
    _put_keys(s3_admin, bucket, ["outside", "registry/v20/sibling", "registry/v2"])
    with registry_storage.create("s3", {**s3_parameters, "rootdirectory": "/registry/v2/"}) as driver:
        assert driver.list("/") == []
        assert driver.stat("/").is_dir
        driver.put_content("/a/b", b"inside")
        assert driver.list("/") == ["/a"]
        assert [info.path for info in driver.walk("/")] == ["/a", "/a/b"]
        driver.delete("/a")

    assert sorted(_keys(s3_admin, bucket)) == ["outside", "registry/v2", "registry/v20/sibling"]


def test_keys_are_stored_below_the_root_directory(
    s3_parameters: dict[str, Any], s3_admin: S3Client, bucket: str
) -> None:
    with registry_storage.create("s3", {**s3_parameters, "rootdirectory": "tenant"}) as driver:
        driver.put_content("/a/b", b"x")
    with registry_storage.create("s3", s3_parameters) as driver:
        driver.put_content("/top", b"y")

    assert sorted(_keys(s3_admin, bucket)) == ["tenant/a/b", "top"]
