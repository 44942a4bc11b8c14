"""GCS streams: one ranged GET per read, resumable writes, compose for a kept prefix, no temporary object left."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.drivers.gcs.writer import TEMPORARY_MARKER

CHUNK = 256 * 1024


class ReaderBrokeError(Exception):
    """Raised by a test reader part way through."""


def failing_after(pieces: list[bytes]) -> Iterator[bytes]:
    yield from pieces
    raise ReaderBrokeError("the client went away")


def object_names(gcs_bucket: Any) -> list[str]:
    return sorted(blob.name for blob in gcs_bucket.list_blobs())


def test_read_stream_is_one_ranged_get_from_the_offset(recorder: Any, gcs_parameters: dict[str, Any]) -> None:
    gcs_driver = registry_storage.create("gcs", {**gcs_parameters, "useragent": "registry-test/1.0"})
    content = os.urandom(3 * CHUNK + 17)
    gcs_driver.put_content("/blob", content)
    log = recorder(gcs_driver)
    with gcs_driver.read_stream("/blob", 1000) as stream:
        assert stream.read() == content[1000:]
    gets = [entry for entry in log.requests if entry[0] == "GET"]
    assert len(gets) == 1, log.requests
    assert gets[0][2].get("Range") == "bytes=1000-"
    assert gets[0][2]["User-Agent"].startswith("registry-test/1.0")
    assert "/download/" in gets[0][1]
    gcs_driver.close()


def test_read_stream_at_or_past_the_end_is_empty_and_a_missing_file_is_not_found(gcs_driver: StorageDriver) -> None:
    gcs_driver.put_content("/small", b"12345")
    for offset in (5, 6, 1 << 30):
        with gcs_driver.read_stream("/small", offset) as stream:
            assert stream.read() == b""
    with pytest.raises(FileNotFoundError):
        gcs_driver.read_stream("/missing", 3)


def test_a_big_write_goes_in_chunks_of_a_resumable_upload(
    recorder: Any, gcs_driver: StorageDriver, gcs_bucket: Any
) -> None:
    content = os.urandom(5 * CHUNK + 3)
    log = recorder(gcs_driver)
    assert gcs_driver.write_stream("/big", 0, [content[i : i + 100_000] for i in range(0, len(content), 100_000)])
    assert gcs_driver.get_content("/big") == content
    assert log.matching("POST", "uploadType=resumable"), "a resumable upload session was started"
    assert len(log.matching("PUT", "upload_id=")) >= 5, "one request per chunk"
    assert object_names(gcs_bucket) == ["big"]


def test_a_small_write_is_one_upload(recorder: Any, gcs_driver: StorageDriver) -> None:
    log = recorder(gcs_driver)
    gcs_driver.write_stream("/small", 0, [b"tiny"])
    uploads = [entry for entry in log.requests if "/upload/" in entry[1]]
    assert len(uploads) == 1
    assert "uploadType=multipart" in uploads[0][1]


def test_an_append_composes_the_old_object_with_the_new_bytes_and_leaves_no_temporary(
    recorder: Any, gcs_driver: StorageDriver, gcs_bucket: Any
) -> None:
    base = os.urandom(2 * CHUNK + 5)
    gcs_driver.put_content("/upload/data", base)
    log = recorder(gcs_driver)
    tail = os.urandom(CHUNK + 9)
    assert gcs_driver.write_stream("/upload/data", len(base), [tail]) == len(tail)
    assert log.matching("POST", "/compose"), log.requests
    assert not [entry for entry in log.requests if entry[0] == "GET" and "/download/" in entry[1]], (
        "the kept prefix is not read back"
    )
    assert gcs_driver.get_content("/upload/data") == base + tail
    assert object_names(gcs_bucket) == ["upload/data"]


def test_an_append_past_the_end_composes_a_zero_gap(gcs_driver: StorageDriver) -> None:
    gcs_driver.put_content("/sparse", b"abc")
    gcs_driver.write_stream("/sparse", 10, [b"xyz"])
    assert gcs_driver.get_content("/sparse") == b"abc" + bytes(7) + b"xyz"


def test_a_write_inside_the_content_sends_the_kept_prefix_again(gcs_driver: StorageDriver) -> None:
    base = os.urandom(3 * CHUNK)
    gcs_driver.put_content("/cut", base)
    gcs_driver.write_stream("/cut", CHUNK + 1, [b"new end"])
    assert gcs_driver.get_content("/cut") == base[: CHUNK + 1] + b"new end"


@pytest.mark.parametrize("pieces", [1, 6], ids=["held-bytes", "after-chunks-sent"])
def test_an_interrupted_append_keeps_base_plus_what_was_read_and_no_temporary(
    gcs_driver: StorageDriver, gcs_bucket: Any, pieces: int
) -> None:
    base = os.urandom(CHUNK + 7)
    gcs_driver.put_content("/resumable", base)
    sent = [os.urandom(100_000) for _ in range(pieces)]
    with pytest.raises(ReaderBrokeError):
        gcs_driver.write_stream("/resumable", len(base), failing_after(sent))
    expected = base + b"".join(sent)
    assert gcs_driver.stat("/resumable").size == len(expected)
    assert gcs_driver.get_content("/resumable") == expected
    assert not [name for name in object_names(gcs_bucket) if TEMPORARY_MARKER in name]
    resumed = os.urandom(1000)
    gcs_driver.write_stream("/resumable", len(expected), [resumed])
    assert gcs_driver.get_content("/resumable") == expected + resumed


def test_an_interrupted_first_write_keeps_what_was_read(gcs_driver: StorageDriver) -> None:
    sent = [os.urandom(100_000) for _ in range(4)]
    with pytest.raises(ReaderBrokeError):
        gcs_driver.write_stream("/first", 0, failing_after(sent))
    assert gcs_driver.get_content("/first") == b"".join(sent)


def test_an_interrupted_write_over_the_protocol_leaves_no_temporary(
    gcs_parameters: dict[str, Any], gcs_bucket: Any
) -> None:
    with registry_storage.create("gcs", gcs_parameters, out_of_process=True) as driver:
        driver.put_content("/remote", b"base")
        with pytest.raises(ReaderBrokeError):
            driver.write_stream("/remote", 4, failing_after([b"-more" * 1000]))
        content = driver.get_content("/remote")
        assert content.startswith(b"base")
        assert driver.stat("/remote").size == len(content)
    assert object_names(gcs_bucket) == ["remote"]
