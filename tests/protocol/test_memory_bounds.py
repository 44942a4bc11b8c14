"""Memory of a driver process is bounded by its limits, never by what a client sends (protocol.md section 12).

Each test measures the host's peak resident set (VmHWM in /proc) and asserts it against the limit the host must
respect: the limits it announced (a chunk, a frame, the admission queue) or the size of the request itself.
"""

from __future__ import annotations

from registry_storage.wire import Limits

from .rawclient import RawClient

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
