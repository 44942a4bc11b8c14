"""Reaching S3: presigned URLs, failures that are not "not found", and the driver run as registry-storage-s3."""

from __future__ import annotations

import socket
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.errors import InvalidParameterError, PathNotFoundError, StorageDriverError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_s3 import S3Client


def test_url_for_gives_a_url_that_urllib_can_fetch(s3_driver: StorageDriver) -> None:
    content = bytes(range(256)) * 40
    s3_driver.put_content("/blobs/data", content)

    with urllib.request.urlopen(s3_driver.url_for("/blobs/data"), timeout=30) as response:
        assert response.read() == content

    later = datetime.now(timezone.utc) + timedelta(hours=1)
    for expiry in (60, timedelta(minutes=5), later, later.isoformat()):
        with urllib.request.urlopen(s3_driver.url_for("/blobs/data", expiry=expiry), timeout=30) as response:
            assert response.read() == content
    head = urllib.request.Request(s3_driver.url_for("/blobs/data", method="HEAD"), method="HEAD")
    with urllib.request.urlopen(head, timeout=30) as response:
        assert int(response.headers["Content-Length"]) == len(content)


@pytest.mark.parametrize(
    ("option", "value"),
    [("expiry", 0), ("expiry", 8 * 86400), ("expiry", "tomorrow"), ("expiry", True), ("method", "DELETE")],
)
def test_url_for_rejects_bad_options_naming_them(s3_driver: StorageDriver, option: str, value: object) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        s3_driver.url_for("/blobs/data", **{option: value})
    assert raised.value.parameter == option


def _calls(driver: StorageDriver) -> dict[str, Callable[[], object]]:
    return {
        "stat": lambda: driver.stat("/a"),
        "get_content": lambda: driver.get_content("/a"),
        "read_stream": lambda: driver.read_stream("/a", 3),
        "list": lambda: driver.list("/"),
        "walk": lambda: driver.walk("/a"),
        "delete": lambda: driver.delete("/a"),
        "put_content": lambda: driver.put_content("/a/b", b"x"),
        "write_stream": lambda: driver.write_stream("/a/b", 0, [b"x"]),
        "move": lambda: driver.move("/a", "/b"),
    }


def test_a_missing_bucket_is_an_error_not_a_missing_path(s3_parameters: dict[str, Any]) -> None:
    with registry_storage.create("s3", {**s3_parameters, "bucket": "no-such-bucket"}) as driver:
        for name, call in _calls(driver).items():
            with pytest.raises(StorageDriverError) as raised:
                call()
            assert not isinstance(raised.value, PathNotFoundError), name
            assert "NoSuchBucket" in str(raised.value), name
            assert raised.value.__cause__ is not None, name


def test_an_unreachable_server_is_an_error_not_a_missing_path(s3_parameters: dict[str, Any]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with registry_storage.create("s3", {**s3_parameters, "regionendpoint": closed}) as driver:
        for name in ("stat", "get_content", "list"):
            with pytest.raises(StorageDriverError) as raised:
                _calls(driver)[name]()
            assert not isinstance(raised.value, PathNotFoundError), name
            assert raised.value.__cause__ is not None, name


def test_registry_storage_s3_reaches_the_server_through_regionendpoint(
    s3_parameters: dict[str, Any], s3_admin: S3Client, bucket: str
) -> None:
    with registry_storage.create("s3", s3_parameters, out_of_process=True) as driver:
        assert type(driver).__name__ == "ProxyDriver"
        driver.put_content("/from/child", b"over the protocol")
        assert driver.get_content("/from/child") == b"over the protocol"
        assert driver.list("/from") == ["/from/child"]
        with pytest.raises(PathNotFoundError):
            driver.stat("/from/missing")

    assert s3_admin.get_object(Bucket=bucket, Key="from/child")["Body"].read() == b"over the protocol"
