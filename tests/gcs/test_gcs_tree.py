"""GCS listings: pages of more than 1,000 children, walk from one flat listing, folder placeholders, batched delete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from registry_storage.driver import StorageDriver
from registry_storage.errors import PathConflictError, PathNotFoundError

MANY = 1001


def test_list_and_walk_cross_pages_with_more_than_a_thousand_children(recorder: Any, gcs_driver: StorageDriver) -> None:
    names = [f"/many/f{index:04d}" for index in range(MANY)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda path: gcs_driver.put_content(path, b"x"), names))
    log = recorder(gcs_driver)
    assert gcs_driver.list("/many") == names
    listings = log.matching("GET", "/o?")
    assert len(listings) == 2, "1,001 children take two pages of 1,000"
    assert all("delimiter=%2F" in url for _, url, _ in listings)
    log.clear()
    assert [info.path for info in gcs_driver.walk("/many")] == names
    assert len(log.matching("GET", "/o?")) == 2
    log.clear()
    gcs_driver.delete("/many")
    assert len(log.matching("DELETE", "/o/many?")) == 1, "first a file at the path is tried"
    assert len(log.matching("DELETE", "/o/many%2F")) == MANY
    assert len(log.matching("GET", "/o?")) == 2, "then the objects below it, a page at a time"
    with pytest.raises(PathNotFoundError):
        gcs_driver.list("/many")


def test_walk_is_one_flat_listing_in_depth_first_order(recorder: Any, gcs_driver: StorageDriver) -> None:
    for path in ("/t/a-b", "/t/a/c", "/t/a.d/e", "/t/a/b/deep", "/t/z"):
        gcs_driver.put_content(path, path.encode())
    log = recorder(gcs_driver)
    walked = [(info.path, info.is_dir) for info in gcs_driver.walk("/t")]
    assert walked == [
        ("/t/a", True),
        ("/t/a/b", True),
        ("/t/a/b/deep", False),
        ("/t/a/c", False),
        ("/t/a-b", False),
        ("/t/a.d", True),
        ("/t/a.d/e", False),
        ("/t/z", False),
    ]
    listings = log.matching("GET", "/o?")
    assert len(listings) == 1
    assert "delimiter" not in listings[0][1]


def test_folder_placeholders_are_directories_never_files(gcs_driver: StorageDriver, gcs_bucket: Any) -> None:
    gcs_bucket.blob("folder/").upload_from_string(b"")
    gcs_bucket.blob("folder/inner/").upload_from_string(b"")
    gcs_bucket.blob("other/").upload_from_string(b"")
    gcs_bucket.blob("other/file").upload_from_string(b"content")
    assert gcs_driver.list("/") == ["/folder", "/other"]
    assert gcs_driver.list("/folder") == ["/folder/inner"]
    assert gcs_driver.list("/folder/inner") == []
    assert gcs_driver.list("/other") == ["/other/file"]
    for path in ("/folder", "/folder/inner", "/other"):
        info = gcs_driver.stat(path)
        assert info.is_dir
        assert info.size == 0
    assert [(info.path, info.is_dir) for info in gcs_driver.walk("/")] == [
        ("/folder", True),
        ("/folder/inner", True),
        ("/other", True),
        ("/other/file", False),
    ]
    assert list(gcs_driver.walk("/folder/inner")) == []
    with pytest.raises(PathConflictError):
        gcs_driver.put_content("/folder/inner", b"would hide a directory")
    with pytest.raises(PathNotFoundError):
        gcs_driver.get_content("/folder")
    gcs_driver.delete("/folder")
    assert sorted(blob.name for blob in gcs_bucket.list_blobs()) == ["other/", "other/file"]
    with pytest.raises(PathNotFoundError):
        gcs_driver.stat("/folder")


def test_objects_outside_the_path_rules_are_not_part_of_the_tree(gcs_driver: StorageDriver, gcs_bucket: Any) -> None:
    gcs_bucket.blob("ok/file").upload_from_string(b"1")
    gcs_bucket.blob("ok/file~upload-0123").upload_from_string(b"temporary")
    gcs_bucket.blob("ok/with space").upload_from_string(b"2")
    assert gcs_driver.list("/ok") == ["/ok/file"]
    assert [info.path for info in gcs_driver.walk("/ok")] == ["/ok/file"]
