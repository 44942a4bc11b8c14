"""The handshake (protocol.md section 5): the version rule, the gate before it, and what it announces."""

from __future__ import annotations

import pytest

import registry_storage
from registry_storage.observability import metrics

from .conftest import Spawn
from .rawclient import RawClient, driver_command


def test_handshake_chooses_the_version_and_announces_the_driver(spawn: Spawn) -> None:
    client = spawn(driver_command("inmemory"))
    result = client.handshake(["1.0"], limits={"max_message_bytes": 1 << 20}, future_member=True).result
    assert result["version"] == "1.0"
    assert result["driver"] == {
        "name": "inmemory",
        "implementation": "registry-storage-python",
        "version": registry_storage.__version__,
    }
    assert result["capabilities"] == {
        "url_for": False,
        "walk": True,
        "cancel": True,
        "concurrent": True,
        "metrics": metrics.AVAILABLE,
    }
    assert result["limits"] == {
        "max_message_bytes": 16777216,
        "max_attachment_bytes": 268435456,
        "max_chunk_bytes": 4194304,
        "stream_window": 4,
        "max_streams": 256,
    }


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["1.7"], "1.2"), (["0.3", "1.2", "3.0"], "1.2"), (["1.0"], "1.0"), (["1.1"], "1.1"), (["1.2"], "1.2")],
)
def test_the_chosen_minor_is_capped_at_the_drivers(spawn: Spawn, offered: list[str], chosen: str) -> None:
    client = spawn(driver_command("inmemory"))
    assert client.handshake(offered).result["version"] == chosen


@pytest.mark.parametrize("offered", [["2.0"], ["0.9"], ["2.0", "3.1"]])
def test_no_common_major_gets_1008_and_the_host_keeps_serving(spawn: Spawn, offered: list[str]) -> None:
    client = spawn(driver_command("inmemory"))
    error = client.handshake(offered).error
    assert error["code"] == 1008
    assert error["data"] == {
        "type": "IncompatibleVersionError",
        "driver": "inmemory",
        "offered": offered,
        "chosen": None,
    }
    assert client.call("ping").error["code"] == -32002
    assert client.handshake(["1.0"]).result["version"] == "1.0"
    assert client.call("ping").result == {}


def test_a_request_before_the_handshake_gets_32002(spawn: Spawn) -> None:
    client = spawn(driver_command("inmemory"))
    for method, params in [
        ("stat", {"path": "/"}),
        ("ping", {}),
        ("no_such_method", {}),
        ("shutdown", {}),
        ("ping", []),
    ]:
        error = client.call(method, params).error
        assert error["code"] == -32002
        assert error["data"]["type"] == "ProtocolError"
        assert error["data"]["driver"] == "inmemory"
        assert "handshake" in error["data"]["reason"]
    client.notify("stat", {"path": "/"})
    assert client.no_reply()
    assert client.handshake().result["version"] == "1.0"
    assert client.call("list", {"path": "/"}).result == {"paths": []}


def test_a_second_handshake_gets_32002(inmemory: RawClient) -> None:
    error = inmemory.handshake().error
    assert error["code"] == -32002
    assert error["data"]["reason"] == "handshake already done"
    assert inmemory.call("ping").result == {}


@pytest.mark.parametrize("params", [{}, {"versions": "1.0"}, {"versions": [1.0]}, {"versions": None}, [["1.0"]]])
def test_handshake_with_bad_params_gets_32602(spawn: Spawn, params: object) -> None:
    client = spawn(driver_command("inmemory"))
    error = client.call("handshake", params).error
    assert error["code"] == -32602
    assert error["data"]["type"] == "ProtocolError"
    assert client.handshake().result["version"] == "1.0"


def test_the_filesystem_driver_handshakes_too(filesystem: RawClient) -> None:
    assert filesystem.call("list", {"path": "/"}).result == {"paths": []}
