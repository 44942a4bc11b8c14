"""Directories as blob name prefixes: prefix confusion, the root directory, walk order, and listings across pages."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.drivers.azure import AzureDriver
from registry_storage.errors import PathNotFoundError, StorageDriverError

if TYPE_CHECKING:
    from tests.azure.conftest import Azurite, RecordingProxy

PAGE = 5000
"""The most blobs one listing response holds."""


def _expected_walk(files: list[str]) -> list[str]:
    """The walk order of ``files`` (relative names), computed from a tree: depth-first, siblings sorted."""
    tree: dict[str, Any] = {}
    for name in files:
        node = tree
        for part in name.split("/"):
            node = node.setdefault(part, {})
    order: list[str] = []

    def visit(node: dict[str, Any], head: str) -> None:
        for part in sorted(node):
            order.append(f"{head}/{part}")
            visit(node[part], f"{head}/{part}")

    visit(tree, "")
    return order


def _blob_names(container: ContainerClient) -> list[str]:
    return sorted(container.list_blob_names())


def test_a_directory_never_matches_a_longer_name(azure_driver: StorageDriver) -> None:
    for path in ("/a/x", "/ab/y", "/a-c", "/a.d/z", "/a0"):
        azure_driver.put_content(path, path.encode())
    assert azure_driver.list("/") == ["/a", "/a-c", "/a.d", "/a0", "/ab"]
    assert azure_driver.list("/a") == ["/a/x"]
    assert [info.path for info in azure_driver.walk("/a")] == ["/a/x"]
    assert azure_driver.stat("/a").is_dir
    for missing in ("/a-", "/a.", "/a/x/y"):
        with pytest.raises(PathNotFoundError):
            azure_driver.stat(missing)
        with pytest.raises(PathNotFoundError):
            azure_driver.list(missing)
    with pytest.raises(PathNotFoundError):
        azure_driver.get_content("/a")
    azure_driver.delete("/a")
    assert azure_driver.list("/") == ["/a-c", "/a.d", "/a0", "/ab"]
    assert azure_driver.get_content("/ab/y") == b"/ab/y"
    with pytest.raises(PathNotFoundError):
        azure_driver.delete("/a")
    azure_driver.move("/ab/y", "/a/y")
    assert azure_driver.list("/") == ["/a", "/a-c", "/a.d", "/a0"]
    assert azure_driver.get_content("/a/y") == b"/ab/y"


def test_walk_orders_one_flat_listing_depth_first(
    azurite: Azurite, container: ContainerClient, azurite_proxy: RecordingProxy
) -> None:
    files = [
        "a-b/c",
        "a.c",
        "a/b-c/d",
        "a/b.c",
        "a/b/c",
        "a/b/d.e",
        "a/b/d/f",
        "a/b/d-/g",
        "a0",
        "a./y",
        "ab/c",
        "b",
        "B/x",
        "_/z",
    ]
    parameters = azurite.parameters(container.container_name, serviceurl=azurite_proxy.service_url())
    with registry_storage.create("azure", parameters) as driver:
        for name in files:
            driver.put_content(f"/{name}", name.encode())
        azurite_proxy.clear()
        infos = list(driver.walk("/"))
        requests = azurite_proxy.requests()
        assert [info.path for info in infos] == _expected_walk(files)
        assert [info.path for info in driver.walk("/a/b")] == [
            path for path in _expected_walk(files) if path.startswith("/a/b/")
        ]
    sizes = {info.path: (info.size, info.is_dir) for info in infos}
    assert sizes["/a/b/d.e"] == (len("a/b/d.e"), False)
    assert sizes["/a/b/d"] == (0, True)
    assert [method for method, _ in requests] == ["GET"]
    assert "comp=list" in requests[0][1]
    assert "delimiter" not in requests[0][1]


def test_a_root_directory_keeps_every_path_inside_it(azurite: Azurite, container: ContainerClient) -> None:
    with registry_storage.create("azure", azurite.parameters(container.container_name)) as outside:
        for path in ("/outside", "/registry-x/file", "/registryfile", "/registry/v2/inside"):
            outside.put_content(path, b"outside")
    parameters = azurite.parameters(container.container_name, rootdirectory="/registry/")
    with registry_storage.create("azure", parameters) as driver:
        assert driver.list("/") == ["/v2"]
        driver.put_content("/v2/blobs/data", b"1")
        driver.put_content("/top", b"2")
        assert driver.list("/") == ["/top", "/v2"]
        assert [info.path for info in driver.walk("/")] == ["/top", "/v2", "/v2/blobs", "/v2/blobs/data", "/v2/inside"]
        driver.move("/top", "/v2/top")
        driver.delete("/v2")
        assert driver.list("/") == []
        assert list(driver.walk("/")) == []
        assert driver.stat("/").is_dir
        with pytest.raises(PathNotFoundError):
            driver.stat("/v2")
    assert _blob_names(container) == ["outside", "registry-x/file", "registryfile"]


def _put_empty_blobs(azurite: Azurite, container: str, names: list[str], connections: int = 4) -> None:
    """Create empty blobs ``names`` with plain HTTP requests signed once by a container SAS (cheap on a busy host)."""
    signature = generate_container_sas(
        azurite.account_name,
        container,
        account_key=azurite.account_key,
        permission=ContainerSasPermissions(write=True, create=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )

    def put(share: list[str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", azurite.port, timeout=60)
        try:
            for name in share:
                target = f"/{azurite.account_name}/{container}/{name}?{signature}"
                connection.request("PUT", target, body=b"", headers={"x-ms-blob-type": "BlockBlob"})
                response = connection.getresponse()
                body = response.read()
                assert response.status == 201, (response.status, body[:500])
        finally:
            connection.close()

    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(put, [names[start::connections] for start in range(connections)]))


@pytest.fixture
def crowded_directory(
    fresh_azurite: Azurite, fresh_azurite_proxy: RecordingProxy
) -> Iterator[tuple[StorageDriver, list[str]]]:
    """A driver (through a recording proxy) on a directory ``/big/dir`` of more than 5,000 blobs."""
    parameters = fresh_azurite.parameters("crowded", serviceurl=fresh_azurite_proxy.service_url())
    with registry_storage.create("azure", parameters) as driver:
        names = [f"big/dir/f{index:05d}" for index in range(PAGE + 1)] + ["big/dir/sub/x", "big/dir-x", "big/dirz"]
        _put_empty_blobs(fresh_azurite, "crowded", names)
        yield driver, names


def test_more_than_a_page_of_blobs_lists_and_walks(
    crowded_directory: tuple[StorageDriver, list[str]], fresh_azurite: Azurite, fresh_azurite_proxy: RecordingProxy
) -> None:
    driver, names = crowded_directory
    azurite_proxy = fresh_azurite_proxy
    azurite_proxy.clear()
    children = driver.list("/big/dir")
    listings = [target for method, target in azurite_proxy.requests() if "comp=list" in target]
    assert len(children) == PAGE + 2
    assert children == sorted(children)
    assert children[0] == "/big/dir/f00000"
    assert children[-2:] == ["/big/dir/f05000", "/big/dir/sub"]
    assert len(listings) == 2, "a delimiter listing of 5,002 entries takes two pages"
    assert all("delimiter=" in target for target in listings)

    azurite_proxy.clear()
    walked = [info.path for info in driver.walk("/big")]
    assert walked == [f"/big{path}" for path in _expected_walk([name.removeprefix("big/") for name in names])]
    listings = [target for method, target in azurite_proxy.requests() if "comp=list" in target]
    assert len(listings) == 2, "a flat listing of 5,004 blobs takes two pages"
    assert not any("delimiter=" in target for target in listings)
    assert len(azurite_proxy.requests()) == 2, "walk makes no request besides the listing"


def test_delete_of_a_directory_removes_every_page_of_blobs_in_batches(
    azurite: Azurite, container: ContainerClient, azurite_proxy: RecordingProxy
) -> None:
    parameters = azurite.parameters(container.container_name, serviceurl=azurite_proxy.service_url())
    with registry_storage.create("azure", parameters) as driver:
        assert isinstance(driver, AzureDriver)
        driver.listing_page_size = 300
        names = [f"big/dir/f{index:04d}" for index in range(649)] + ["big/dir/sub/x", "big/dir-x", "big/dirz"]
        _put_empty_blobs(azurite, container.container_name, names)
        azurite_proxy.clear()
        driver.delete("/big/dir")
        requests = azurite_proxy.requests()
        listings = [target for _, target in requests if "comp=list" in target]
        batches = [target for method, target in requests if method == "POST" and "comp=batch" in target]
        assert len(listings) == 3, "650 blobs in pages of 300"
        assert len(batches) == 5, "a page of 300 takes two batches of at most 256"
        assert _blob_names(container) == ["big/dir-x", "big/dirz"]
        assert driver.list("/big") == ["/big/dir-x", "/big/dirz"]


def test_a_network_failure_is_never_reported_as_not_found(
    azurite: Azurite, container: ContainerClient, azurite_proxy: RecordingProxy
) -> None:
    parameters = azurite.parameters(container.container_name, serviceurl=azurite_proxy.service_url(), maxretries=0)
    with registry_storage.create("azure", parameters) as driver:
        driver.put_content("/present", b"1")
        azurite_proxy.cut()
        calls: dict[str, Callable[[], object]] = {
            "stat of a missing path": lambda: driver.stat("/missing"),
            "stat of a file": lambda: driver.stat("/present"),
            "get_content": lambda: driver.get_content("/missing"),
            "read_stream": lambda: driver.read_stream("/missing"),
            "list": lambda: driver.list("/missing"),
            "walk": lambda: driver.walk("/missing"),
            "delete": lambda: driver.delete("/missing"),
            "move": lambda: driver.move("/missing", "/elsewhere"),
            "put_content": lambda: driver.put_content("/new", b"x"),
            "write_stream": lambda: driver.write_stream("/present", 1, [b"x"]),
        }
        for name, call in calls.items():
            with pytest.raises(StorageDriverError) as caught:
                call()
            assert not isinstance(caught.value, PathNotFoundError), name
            assert caught.value.driver == "azure", name
            assert caught.value.__cause__ is not None, name


def test_folder_placeholders_are_directories(azure_driver: StorageDriver, container: ContainerClient) -> None:
    for name in ("docs/", "docs/guide/", "empty/", "lone/"):
        container.upload_blob(name, b"")
    for name in ("marked", "docs/marked"):  # as Data Lake (hierarchical namespace) accounts mark folders
        container.upload_blob(name, b"", metadata={"hdi_isfolder": "true"})
    container.upload_blob("odd/with space", b"x")
    azure_driver.put_content("/docs/guide/intro", b"hello")
    azure_driver.put_content("/marked/inside", b"in")

    assert azure_driver.list("/") == ["/docs", "/empty", "/lone", "/marked", "/odd"]
    assert azure_driver.list("/docs") == ["/docs/guide", "/docs/marked"]
    assert azure_driver.list("/lone") == []
    assert azure_driver.list("/docs/marked") == []
    assert azure_driver.list("/odd") == []
    walked = [(info.path, info.is_dir) for info in azure_driver.walk("/")]
    assert walked == [
        ("/docs", True),
        ("/docs/guide", True),
        ("/docs/guide/intro", False),
        ("/docs/marked", True),
        ("/empty", True),
        ("/lone", True),
        ("/marked", True),
        ("/marked/inside", False),
        ("/odd", True),
    ]
    for directory in ("/docs", "/docs/guide", "/docs/marked", "/empty", "/lone", "/marked", "/odd"):
        info = azure_driver.stat(directory)
        assert (info.is_dir, info.size) == (True, 0), directory
        with pytest.raises(PathNotFoundError):
            azure_driver.get_content(directory)
    with pytest.raises(StorageDriverError):
        azure_driver.put_content("/docs/marked", b"a file where a folder is")
    with pytest.raises(StorageDriverError):
        azure_driver.move("/docs/marked", "/elsewhere")

    azure_driver.delete("/marked")
    azure_driver.delete("/docs")
    assert _blob_names(container) == ["empty/", "lone/", "odd/with space"]
    with pytest.raises(PathNotFoundError):
        azure_driver.stat("/marked")
