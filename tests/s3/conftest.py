"""A moto S3 server process on 127.0.0.1 for the S3 driver tests, started once per session and always stopped.

Each test gets a store reset to empty and a bucket of its own; drivers reach the server through ``regionendpoint``
with dummy credentials.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.testing import servers

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1 << 20


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto server process listening on 127.0.0.1 (stopped, and killed if need be, at the end)."""
    try:
        with servers.moto_server() as moto:
            yield moto.endpoint
    except servers.ServerError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def s3_admin(moto_endpoint: str) -> S3Client:
    """A plain boto3 client on the moto server, to set up and inspect what the driver cannot show."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the moto server received."""

    method: str
    url: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)


RequestRecorder = Callable[[], AbstractContextManager[list[RecordedRequest]]]


@pytest.fixture
def recorded_requests(moto_endpoint: str) -> RequestRecorder:
    """``with recorded_requests() as requests:`` fills ``requests`` with what the server received in the block."""

    @contextmanager
    def record() -> Iterator[list[RecordedRequest]]:
        requests: list[RecordedRequest] = []
        servers.moto_api(moto_endpoint, "recorder/reset-recording")
        servers.moto_api(moto_endpoint, "recorder/start-recording")
        try:
            yield requests
        finally:
            servers.moto_api(moto_endpoint, "recorder/stop-recording")
            for line in servers.moto_api(moto_endpoint, "recorder/download-recording").decode().splitlines():
                entry = json.loads(line)
                requests.append(RecordedRequest(entry["method"], entry["url"], dict(entry.get("headers", {}))))
            servers.moto_api(moto_endpoint, "recorder/reset-recording")

    return record


@pytest.fixture
def bucket(moto_endpoint: str, s3_admin: S3Client) -> str:
    """A new, empty bucket on a server reset to empty (so large objects of earlier tests do not pile up)."""
    servers.moto_api(moto_endpoint, "reset")
    name = f"registry-{uuid.uuid4().hex[:12]}"
    s3_admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_parameters(moto_endpoint: str, bucket: str) -> dict[str, Any]:
    """Parameters of a driver on ``bucket``, as an operator would write them (JSON values and strings mixed)."""
    return {
        "bucket": bucket,
        "region": "us-east-1",
        "regionendpoint": moto_endpoint,
        "accesskey": "test",
        "secretkey": "test",
        "chunksize": str(5 * MIB),
        "forcepathstyle": "true",
    }


@pytest.fixture
def s3_driver(s3_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
    """An S3 driver, made by the factory, on a fresh bucket; closed after the test."""
    with registry_storage.create("s3", s3_parameters) as driver:
        yield driver
