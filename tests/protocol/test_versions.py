"""Version negotiation across minors (protocol.md section 5): a 1.1 client with a 1.0 driver and a 1.0 client with
a 1.1 driver both work, using only 1.0 features; a 1.1 session pages ``list`` and ``walk``, takes ``start_after``
and puts large content through ``put_content.open``.

The 1.0 driver is the Python host told to speak 1.0 only (versioned_driver.py); the 1.0 client is the proxy
offering only 1.0, or the raw client (which offers 1.0 unless told otherwise).
"""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.errors import StorageDriverError
from registry_storage.testing import ConformanceSuite

from .conftest import Spawn
from .rawclient import RawClient, driver_command

if TYPE_CHECKING:  # mypy reads the package from its folder; installed, it is registry_storage.client
    from client import ProxyDriver, launch
else:
    from registry_storage.client import ProxyDriver, launch

VERSIONED_DRIVER = Path(__file__).with_name("versioned_driver.py")


def versioned_executable(directory: Path) -> str:
    executable = directory / "registry-storage-versioned"
    executable.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{VERSIONED_DRIVER}" "$@"\n', encoding="utf-8")
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    return str(executable)


@pytest.fixture(scope="module")
def old_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyDriver]:
    """The 1.1 proxy with a driver that speaks 1.0 only."""
    with launch(versioned_executable(tmp_path_factory.mktemp("old")), "inmemory", {"protocol": "1.0"}) as proxy:
        assert proxy.session.info.protocol_version == "1.0"
        yield proxy


@pytest.fixture(scope="module")
def old_client() -> Iterator[StorageDriver]:
    """A proxy offering 1.0 only, with the 1.1 ``registry-storage-inmemory``."""
    with registry_storage.create("inmemory", {}, out_of_process=True, protocol_versions=("1.0",)) as proxy:
        assert isinstance(proxy, ProxyDriver)
        assert proxy.session.info.protocol_version == "1.0"
        yield proxy


class TestNewClientWithOldDriver(ConformanceSuite):
    """Every conformance check through the 1.1 proxy on a driver that speaks 1.0 only: ``start_after`` is applied
    by the proxy, ``list`` and ``walk`` come in one answer each."""

    @pytest.fixture
    def storage_driver(self, old_driver: ProxyDriver) -> StorageDriver:
        return old_driver


class TestOldClientWithNewDriver(ConformanceSuite):
    """Every conformance check through a proxy that offers only 1.0, on the 1.1 driver."""

    @pytest.fixture
    def storage_driver(self, old_client: StorageDriver) -> StorageDriver:
        return old_client


# -- what a 1.0 session does not get, and what a 1.1 session does ------------------------------------------------


def _seed(client: RawClient, count: int) -> list[str]:
    paths = [f"/d/f{index:04}" for index in range(count)]
    for path in paths:
        assert client.call("put_content", {"path": path}, b"x").result is None
    return paths


def test_a_1_0_session_gets_whole_answers_and_no_1_1_members(spawn: Spawn) -> None:
    client = spawn(driver_command("inmemory"))
    assert client.handshake(["1.0"]).result["version"] == "1.0"
    paths = _seed(client, 30)
    assert client.call("list", {"path": "/d"}).result == {"paths": paths}
    walked = client.call("walk", {"path": "/d", "start_after": paths[10]}).result
    assert list(walked) == ["entries"]
    assert [entry["path"] for entry in walked["entries"]] == paths  # start_after is unknown in 1.0: ignored


def test_a_1_1_session_pages_list_and_walk_with_cursors(spawn: Spawn) -> None:
    client = spawn(driver_command("inmemory"))
    handshake = client.handshake(["1.1"], limits={"max_message_bytes": 2048}).result
    assert handshake["version"] == "1.1"
    paths = _seed(client, 200)
    listed: list[str] = []
    params: dict[str, Any] = {"path": "/d"}
    pages = 0
    while True:
        page = client.call("list", params).result
        pages += 1
        listed += page["paths"]
        if page["cursor"] is None:
            break
        params = {"path": "/d", "cursor": page["cursor"]}
    assert listed == paths
    assert pages > 2  # each page is at most half of the 2048-byte message limit
    walked: list[str] = []
    params = {"path": "/d", "start_after": paths[49]}
    while True:
        page = client.call("walk", params).result
        walked += [entry["path"] for entry in page["entries"]]
        if page["cursor"] is None:
            break
        params = {"path": "/d", "cursor": page["cursor"]}
    assert walked == paths[50:]


def test_a_cursor_still_works_after_its_listing_was_forgotten(spawn: Spawn) -> None:
    client = spawn(driver_command("inmemory"))
    client.handshake(["1.1"], limits={"max_message_bytes": 2048})
    paths = _seed(client, 100)
    first = client.call("list", {"path": "/d"}).result
    later = [client.call("list", {"path": "/d"}).result for _ in range(20)]  # more listings than the host keeps
    assert all(page == first for page in later)
    resumed = client.call("list", {"path": "/d", "cursor": first["cursor"]}).result
    assert resumed["paths"][0] == paths[len(first["paths"])]


def test_a_bad_cursor_is_invalid_params(spawn: Spawn) -> None:
    client = spawn(driver_command("inmemory"))
    client.handshake(["1.1"])
    _seed(client, 3)
    for cursor in (5, "no slash", ["/d/f0001"]):
        assert client.call("walk", {"path": "/d", "cursor": cursor}).error["code"] == -32602


def test_put_content_open_replaces_the_content_at_close_and_a_cancel_changes_nothing(spawn: Spawn) -> None:
    client = spawn(driver_command("inmemory"))
    client.handshake(["1.1"])
    client.call("put_content", {"path": "/a"}, b"old")
    stream = client.call("put_content.open", {"path": "/a"}).result["stream"]
    client.call("stream.write", {"stream": stream}, b"new ")
    assert client.call("get_content", {"path": "/a"}).attachment == b"old"  # nothing changes before the close
    client.call("stream.write", {"stream": stream}, b"content")
    assert client.call("stream.close", {"stream": stream}).result == {"written": 11}
    assert client.call("get_content", {"path": "/a"}).attachment == b"new content"
    cancelled = client.call("put_content.open", {"path": "/a"}).result["stream"]
    client.call("stream.write", {"stream": cancelled}, b"never")
    assert client.call("stream.cancel", {"stream": cancelled}).result is None
    assert client.call("get_content", {"path": "/a"}).attachment == b"new content"
    assert client.call("put_content.open", {"path": "a"}).error["code"] == 1002


def test_put_content_over_the_attachment_limit_moves_as_a_stream_in_1_1(tmp_path: Path) -> None:
    content = bytes(range(256)) * 40  # 10 KiB, over the driver's 1 KiB attachment limit
    executable = versioned_executable(tmp_path)
    with launch(executable, "inmemory", {"max_attachment_bytes": 1024}, chunk_bytes=4096) as proxy:
        assert proxy.session.info.limits.max_attachment_bytes == 1024
        proxy.put_content("/big", content)
        assert proxy.get_content("/big") == content
    with launch(executable, "inmemory", {"max_attachment_bytes": 1024, "protocol": "1.0"}) as old:
        with pytest.raises(StorageDriverError, match=r"max_attachment_bytes .*protocol 1\.0.*write_stream"):
            old.put_content("/big", content)
        with pytest.raises(StorageDriverError):
            old.stat("/big")


def test_walk_from_a_hint_through_the_proxy_in_both_versions(old_driver: ProxyDriver, old_client: Any) -> None:
    for proxy in (old_driver, old_client):
        for path in ("/h/a/1", "/h/a/2", "/h/a-b", "/h/b"):
            proxy.put_content(path, b"x")
        try:
            assert [info.path for info in proxy.walk("/h", start_after="/h/a/1")] == ["/h/a/2", "/h/a-b", "/h/b"]
        finally:
            proxy.delete("/h")
