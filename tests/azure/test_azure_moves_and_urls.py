"""move as a server-side copy, and url_for as a SAS URL that plain HTTP clients can fetch."""

from __future__ import annotations

import random
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import AccountSasPermissions, ContainerClient, ResourceTypes, generate_account_sas

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.errors import PathConflictError, PathNotFoundError, StorageDriverError, UnsupportedMethodError

if TYPE_CHECKING:
    from tests.azure.conftest import Azurite, RecordingProxy

MIB = 1 << 20


def _fetch(url: str, method: str = "GET") -> tuple[int, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as response:
        return int(response.status), response.read()


def test_move_copies_on_the_server_then_deletes_the_source(
    azurite: Azurite, container: ContainerClient, azurite_proxy: RecordingProxy
) -> None:
    data = random.Random(1).randbytes(6 * MIB + 3)
    parameters = azurite.parameters(container.container_name, serviceurl=azurite_proxy.service_url(), blocksize=MIB)
    with registry_storage.create("azure", parameters) as driver:
        driver.put_content("/uploads/u1/data", data)
        driver.put_content("/blobs/old", b"replaced by the move")
        azurite_proxy.clear()
        driver.move("/uploads/u1/data", "/blobs/old")
        requests = azurite_proxy.requests()
        assert [target for method, target in requests if method == "GET" and "comp=list" not in target] == []
        assert [method for method, _ in requests].count("PUT") == 1, "one copy request, no upload"
        assert driver.get_content("/blobs/old") == data
        assert driver.list("/") == ["/blobs"]
        with pytest.raises(PathNotFoundError):
            driver.stat("/uploads")
        assert sorted(container.list_blob_names()) == ["blobs/old"]


def test_move_refuses_before_anything_changes(azure_driver: StorageDriver) -> None:
    azure_driver.put_content("/file", b"1")
    azure_driver.put_content("/dir/child", b"2")
    with pytest.raises(PathNotFoundError) as caught:
        azure_driver.move("/missing", "/dir/child")
    assert caught.value.path == "/missing"
    with pytest.raises(PathConflictError):
        azure_driver.move("/dir", "/elsewhere")
    with pytest.raises(PathConflictError):
        azure_driver.move("/file", "/dir")
    with pytest.raises(PathConflictError):
        azure_driver.move("/file", "/file/below")
    azure_driver.move("/file", "/file")
    assert azure_driver.get_content("/file") == b"1"
    assert azure_driver.get_content("/dir/child") == b"2"
    assert azure_driver.list("/") == ["/dir", "/file"]


def test_url_for_gives_a_sas_url_that_urllib_can_fetch(azurite: Azurite, container: ContainerClient) -> None:
    parameters = azurite.parameters(container.container_name, rootdirectory="/registry/v2")
    with registry_storage.create("azure", parameters) as driver:
        data = random.Random(2).randbytes(100_000)
        driver.put_content("/blobs/sha256/ab/data", data)
        url = driver.url_for("/blobs/sha256/ab/data")
        assert urlsplit(url).path.endswith(f"/{container.container_name}/registry/v2/blobs/sha256/ab/data")
        assert parse_qs(urlsplit(url).query)["sp"] == ["r"], "read permission only"
        assert _fetch(url) == (200, data)
        assert _fetch(driver.url_for("/blobs/sha256/ab/data", method="HEAD"), "HEAD") == (200, b"")
        tampered = url.replace("/ab/data", "/ab/other")
        with pytest.raises(urllib.error.HTTPError) as refused:
            _fetch(tampered)
        assert refused.value.code == 403


def test_url_for_honours_the_expiry_option(azure_driver: StorageDriver) -> None:
    azure_driver.put_content("/file", b"content")
    soon = datetime.now(timezone.utc) + timedelta(minutes=5)

    def expiry(url: str) -> datetime:
        return datetime.fromisoformat(parse_qs(urlsplit(url).query)["se"][0].replace("Z", "+00:00"))

    assert abs(expiry(azure_driver.url_for("/file", expiry=soon)) - soon) < timedelta(seconds=2)
    as_text = soon.isoformat().replace("+00:00", "Z")
    assert abs(expiry(azure_driver.url_for("/file", expiry=as_text)) - soon) < timedelta(seconds=2)
    in_an_hour = datetime.now(timezone.utc) + timedelta(hours=1)
    assert abs(expiry(azure_driver.url_for("/file", expiry=3600)) - in_an_hour) < timedelta(seconds=5)
    assert abs(expiry(azure_driver.url_for("/file", expiry=timedelta(hours=1))) - in_an_hour) < timedelta(seconds=5)
    default = expiry(azure_driver.url_for("/file"))
    assert timedelta(minutes=19) < default - datetime.now(timezone.utc) <= timedelta(minutes=20)
    assert _fetch(azure_driver.url_for("/file", expiry=60)) == (200, b"content")
    for bad in (datetime.now(timezone.utc) - timedelta(minutes=1), datetime(2030, 1, 1), "tomorrow", -5):
        with pytest.raises(StorageDriverError):
            azure_driver.url_for("/file", expiry=bad)
    with pytest.raises(StorageDriverError):
        azure_driver.url_for("/file", method="DELETE")


def test_url_for_needs_an_account_key(azurite: Azurite, container: ContainerClient) -> None:
    with registry_storage.create("azure", azurite.parameters(container.container_name)) as driver:
        driver.put_content("/file", b"1")
    parameters: dict[str, Any] = {
        "connectionstring": f"BlobEndpoint={azurite.service_url};SharedAccessSignature={_account_sas(azurite)}",
        "container": container.container_name,
    }
    with registry_storage.create("azure", parameters) as driver:
        assert driver.get_content("/file") == b"1"
        with pytest.raises(UnsupportedMethodError):
            driver.url_for("/file")


def _account_sas(azurite: Azurite) -> str:
    return generate_account_sas(
        azurite.account_name,
        azurite.account_key,
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(read=True, write=True, list=True, create=True, delete=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )
