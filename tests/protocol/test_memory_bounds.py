"""Memory of a driver process is bounded by its limits, never by what a client sends (protocol.md section 12).

Each test measures the host's peak resident set (VmHWM in /proc) and asserts it against the limit the host must
respect: the limits it announced (a chunk, a frame, the admission queue) or the size of the request itself.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from registry_storage.host.server import MAX_IN_FLIGHT_BYTES
from registry_storage.wire import Limits, dumps, encode_frame

from .conftest import Spawn, gated_command
from .rawclient import RawClient, driver_command

MiB = 1 << 20
CHUNK_LIMIT = Limits().max_chunk_bytes


def grown(client: RawClient, before: int) -> int:
    """How far the host's peak resident set grew past ``before``, in bytes."""
    return client.high_water_rss() - before


def write_at(client: RawClient, path: str, offset: int, chunk: bytes) -> int:
    """A whole write_stream of ``chunk`` at ``offset``; returns the bytes written."""
    stream = client.call("write_stream.open", {"path": path, "offset": offset}).result["stream"]
    assert client.call("stream.write", {"stream": stream}, chunk).result is None
    written: int = client.call("stream.close", {"stream": stream}).result["written"]
    return written


# -- inmemory ---------------------------------------------------------------------------------------------------


def test_inmemory_gap_of_a_tebibyte_costs_less_than_a_chunk(inmemory: RawClient) -> None:
    before = inmemory.high_water_rss()
    assert write_at(inmemory, "/sparse", 1 << 40, b"tail") == 4
    assert inmemory.call("stat", {"path": "/sparse"}).result["size"] == (1 << 40) + 4
    assert grown(inmemory, before) < CHUNK_LIMIT


def test_inmemory_gap_of_2_to_the_62_leaves_the_host_serving(inmemory: RawClient) -> None:
    before = inmemory.high_water_rss()
    opened = inmemory.start("write_stream.open", {"path": "/huge", "offset": 1 << 62})
    assert inmemory.call("stat", {"path": "/"}, timeout=10).result["is_dir"] is True
    stream = inmemory.result(opened).result["stream"]
    assert inmemory.call("stream.close", {"stream": stream}).result == {"written": 0}
    assert inmemory.call("stat", {"path": "/huge"}).result["size"] == 1 << 62
    reader = inmemory.call("read_stream.open", {"path": "/huge", "offset": (1 << 62) - 3}).result["stream"]
    reply = inmemory.call("stream.read", {"stream": reader, "size": 10})
    assert reply.attachment == bytes(3)
    assert reply.result == {"eof": True}
    assert grown(inmemory, before) < CHUNK_LIMIT


def test_inmemory_deep_path_costs_memory_linear_in_its_length(inmemory: RawClient) -> None:
    path = "/d" * 12_000
    before = inmemory.high_water_rss()
    assert inmemory.call("put_content", {"path": path}, b"deep").result is None
    assert inmemory.call("get_content", {"path": path}).attachment == b"deep"
    assert inmemory.call("stat", {"path": path[: len(path) // 2]}).result["is_dir"] is True
    assert inmemory.call("list", {"path": path[:-2]}).result == {"paths": [path]}
    assert inmemory.call("delete", {"path": "/d"}).result is None
    assert inmemory.call("list", {"path": "/"}).result == {"paths": []}
    # a bound linear in the request: 1 KiB of state per component of the path (it was quadratic: +141 MiB)
    assert grown(inmemory, before) < 1024 * 12_000


# -- the host ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [384 * MiB, 1 << 40])
def test_get_content_over_the_clients_limit_is_refused_before_it_is_read(
    spawn: Spawn, tmp_path: Path, size: int
) -> None:
    limit = 8 * MiB
    store = tmp_path / "store"
    store.mkdir()
    with open(store / "big", "wb") as file:
        file.truncate(size)  # sparse: costs no disk, but reading it would cost its size in memory
    client = spawn(driver_command("filesystem", {"rootdirectory": str(store)}))
    client.handshake(limits={"max_attachment_bytes": limit})
    before = client.high_water_rss()
    error = client.call("get_content", {"path": "/big"}).error
    assert error["code"] == 1009, error
    assert "max_attachment_bytes" in error["data"]["reason"]
    assert grown(client, before) < limit
    assert client.call("ping").result == {}


def test_requests_naming_an_open_stream_wait_for_admission(spawn: Spawn) -> None:
    client = spawn(gated_command())
    client.handshake()
    stream = client.call("write_stream.open", {"path": "/gated/w", "offset": 0}).result["stream"]
    assert client.call("stream.write", {"stream": stream}, b"held at the gate").result is None
    closing = client.start("stream.close", {"stream": stream})  # waits for the gated write
    count = 100_000
    frames = b"".join(
        bytes(piece)
        for index in range(count)
        for piece in encode_frame(dumps({"jsonrpc": "2.0", "method": "stream.close", "params": {"stream": stream}}))
    )
    before = client.high_water_rss()
    sender = threading.Thread(target=client.send_bytes, args=(frames,), daemon=True)
    sender.start()
    sender.join(5)  # the host stops reading once its admission bound is reached; the pipe then fills
    # unbounded, 100,000 queued requests cost +110 MiB; bounded, a few dozen do
    assert grown(client, before) < count * 64
    os.kill(client.process.pid, signal.SIGUSR1)
    assert client.result(closing).result == {"written": len(b"held at the gate")}
    sender.join(60)
    assert not sender.is_alive()
    assert client.call("ping", timeout=60).result == {}


def test_pipelined_puts_are_bounded_by_bytes_in_flight(spawn: Spawn, tmp_path: Path) -> None:
    client = spawn(driver_command("filesystem", {"rootdirectory": str(tmp_path / "store")}))
    client.handshake()
    size = 32 * MiB
    content = bytes(range(256)) * (size // 256)
    before = client.high_water_rss()
    ids = [client.start("put_content", {"path": f"/p{index}"}, content) for index in range(24)]
    for request_id in ids:
        assert client.result(request_id, timeout=120).result is None
    # in flight at most MAX_IN_FLIGHT_BYTES of attachments, the frame the reader holds, and one copy per running
    # put; unbounded, 24 pipelined puts of 32 MiB cost +351 MiB
    assert grown(client, before) < 2 * MAX_IN_FLIGHT_BYTES + 2 * size
    assert client.call("stat", {"path": "/p23"}).result["size"] == size
