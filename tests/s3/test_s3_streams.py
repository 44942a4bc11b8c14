"""Streaming on S3: one GET per read stream, equal-size multipart uploads, interrupted writes and their resumption.

The driver under test uses 5 MiB parts (the ``s3_parameters`` fixture).
"""

from __future__ import annotations

import random
import threading
import tracemalloc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.errors import PathNotFoundError, StorageDriverError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from .conftest import RequestRecorder

MIB = 1 << 20
PART = 5 * MIB


class SourceError(Exception):
    """Raised by a test's reader in the middle of a write."""


def _data(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _pieces(data: bytes, size: int = MIB) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _then_break(data: bytes) -> Iterator[bytes]:
    yield from _pieces(data)
    raise SourceError("the source failed")


def _uploads(s3_admin: S3Client, bucket: str) -> list[str]:
    return [upload.get("Key", "") for upload in s3_admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def _part_sizes(s3_admin: S3Client, bucket: str, key: str) -> list[int]:
    first = s3_admin.head_object(Bucket=bucket, Key=key, PartNumber=1)
    count = first.get("PartsCount", 1)
    sizes = [first["ContentLength"]]
    sizes += [s3_admin.head_object(Bucket=bucket, Key=key, PartNumber=n)["ContentLength"] for n in range(2, count + 1)]
    return sizes


def test_read_stream_makes_one_get_from_the_offset(
    s3_driver: StorageDriver, recorded_requests: RequestRecorder
) -> None:
    data = _data(12 * MIB)
    s3_driver.put_content("/blob", data)

    with recorded_requests() as requests, s3_driver.read_stream("/blob", 1000) as stream:
        pieces = list(iter(lambda: stream.read(64 * 1024), b""))

    assert b"".join(pieces) == data[1000:]
    assert [(request.method, request.header("Range")) for request in requests] == [("GET", "bytes=1000-")]


def test_read_stream_holds_a_bounded_amount_of_memory(s3_driver: StorageDriver) -> None:
    s3_driver.write_stream("/blob", 0, _pieces(_data(24 * MIB)))

    tracemalloc.start()
    try:
        with s3_driver.read_stream("/blob") as stream:
            total = 0
            while piece := stream.read(64 * 1024):
                total += len(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert total == 24 * MIB
    assert peak < 4 * MIB


def test_write_stream_holds_at_most_concurrency_times_chunksize(s3_driver: StorageDriver) -> None:
    piece = _data(MIB)

    tracemalloc.start()
    try:
        written = s3_driver.write_stream("/blob", 0, (piece for _ in range(48)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert written == 48 * MIB
    assert s3_driver.stat("/blob").size == 48 * MIB
    assert peak < 4 * PART + 4 * MIB


def test_write_stream_uploads_equal_parts_and_leaves_no_upload(
    s3_driver: StorageDriver, s3_admin: S3Client, bucket: str
) -> None:
    data = _data(13 * MIB)

    assert s3_driver.write_stream("/blob", 0, _pieces(data, 3 * MIB)) == len(data)

    assert s3_driver.get_content("/blob") == data
    assert _part_sizes(s3_admin, bucket, "blob") == [PART, PART, 3 * MIB]
    assert _uploads(s3_admin, bucket) == []


def test_a_write_smaller_than_one_part_is_a_single_put(
    s3_driver: StorageDriver, recorded_requests: RequestRecorder
) -> None:
    with recorded_requests() as requests:
        s3_driver.write_stream("/small", 0, _pieces(_data(PART)))

    writes = [request for request in requests if request.method in ("PUT", "POST")]
    assert len(writes) == 1
    assert "uploadId" not in writes[0].url
    assert "uploads" not in writes[0].url


def test_an_interrupted_write_keeps_what_was_read_and_resumes_with_a_server_side_copy(
    s3_driver: StorageDriver, s3_admin: S3Client, bucket: str, recorded_requests: RequestRecorder
) -> None:
    data = _data(14 * MIB)
    cut = 13 * MIB

    with pytest.raises(SourceError):
        s3_driver.write_stream("/blob", 0, _then_break(data[:cut]))

    assert s3_driver.stat("/blob").size == cut
    assert s3_driver.get_content("/blob") == data[:cut]
    assert _uploads(s3_admin, bucket) == []

    with recorded_requests() as requests:
        assert s3_driver.write_stream("/blob", cut, _pieces(data[cut:])) == len(data) - cut

    assert s3_driver.get_content("/blob") == data
    assert _part_sizes(s3_admin, bucket, "blob") == [PART, PART, 4 * MIB]
    copies = [parse_qs(urlsplit(request.url).query) for request in requests if request.header("x-amz-copy-source")]
    assert sorted(query["partNumber"][0] for query in copies) == ["1", "2"]
    gets = [
        request.header("Range") for request in requests if request.method == "GET" and request.url.endswith("/blob")
    ]
    assert gets == [f"bytes={2 * PART}-{cut - 1}"]
    assert _uploads(s3_admin, bucket) == []


def test_an_interrupted_write_at_an_offset_keeps_the_base(
    s3_driver: StorageDriver, s3_admin: S3Client, bucket: str
) -> None:
    old = _data(12 * MIB, seed=1)
    new = _data(7 * MIB, seed=2)
    s3_driver.put_content("/blob", old)

    with pytest.raises(SourceError):
        s3_driver.write_stream("/blob", 6 * MIB, _then_break(new))

    assert s3_driver.get_content("/blob") == old[: 6 * MIB] + new
    assert _uploads(s3_admin, bucket) == []


def test_an_interrupted_write_past_the_end_keeps_the_zero_gap(s3_driver: StorageDriver) -> None:
    s3_driver.put_content("/blob", b"old")

    with pytest.raises(SourceError):
        s3_driver.write_stream("/blob", 6 * MIB, _then_break(b"new"))

    content = s3_driver.get_content("/blob")
    assert len(content) == 6 * MIB + 3
    assert content[:3] == b"old"
    assert content[3 : 6 * MIB] == bytes(6 * MIB - 3)
    assert content[6 * MIB :] == b"new"


def test_a_write_whose_upload_fails_on_the_server_raises_and_leaves_no_upload(
    s3_driver: StorageDriver, s3_admin: S3Client, bucket: str
) -> None:
    """The upload is aborted behind the driver's back in the middle of the write: S3 answers NoSuchUpload."""
    first_part_sent = threading.Event()

    def source() -> Iterator[bytes]:
        yield from _pieces(_data(6 * MIB))
        for upload in s3_admin.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3_admin.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            first_part_sent.set()
        yield from _pieces(_data(6 * MIB, seed=3))

    with pytest.raises(StorageDriverError) as raised:
        s3_driver.write_stream("/blob", 0, source())

    assert first_part_sent.is_set()
    assert not isinstance(raised.value, PathNotFoundError)
    assert _uploads(s3_admin, bucket) == []
    with pytest.raises(PathNotFoundError):
        s3_driver.stat("/blob")


def test_move_above_the_threshold_copies_in_parts(
    s3_parameters: dict[str, Any], s3_admin: S3Client, bucket: str
) -> None:
    parameters = {**s3_parameters, "multipartcopythresholdsize": PART, "multipartcopychunksize": PART}
    data = _data(12 * MIB)
    with registry_storage.create("s3", parameters) as driver:
        driver.put_content("/small", b"tiny")
        driver.put_content("/large", data)

        driver.move("/small", "/moved/small")
        driver.move("/large", "/moved/large")

        assert driver.get_content("/moved/small") == b"tiny"
        assert driver.get_content("/moved/large") == data
        assert driver.list("/") == ["/moved"]
    assert "-" not in s3_admin.head_object(Bucket=bucket, Key="moved/small")["ETag"]
    assert _part_sizes(s3_admin, bucket, "moved/large") == [PART, PART, 2 * MIB]
    assert _uploads(s3_admin, bucket) == []
