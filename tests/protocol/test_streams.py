"""Streams over the protocol (protocol.md section 7): pulls, pushes, windows, cancellation and concurrency."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from .conftest import Spawn, gated_command
from .gated_driver import HOLDING
from .rawclient import RawClient, Reply, driver_command

WINDOW = 4


def open_gate(client: RawClient) -> None:
    """Let the gated driver's calls on /gated paths proceed."""
    os.kill(client.process.pid, signal.SIGUSR1)


def write_all(client: RawClient, path: str, offset: int, chunks: list[bytes]) -> int:
    """Write ``chunks`` through one write stream, keeping up to WINDOW writes in flight; returns ``written``."""
    stream = client.call("write_stream.open", {"path": path, "offset": offset}).result["stream"]
    in_flight: list[int] = []
    for chunk in chunks:
        if len(in_flight) == WINDOW:
            assert client.result(in_flight.pop(0)).result is None
        in_flight.append(client.start("stream.write", {"stream": stream}, chunk))
    for request_id in in_flight:
        assert client.result(request_id).result is None
    written: int = client.call("stream.close", {"stream": stream}).result["written"]
    return written


def read_all(client: RawClient, path: str, offset: int = 0, size: int = 65536) -> bytes:
    """Read ``path`` through one read stream with up to WINDOW reads in flight; returns the bytes."""
    stream = client.call("read_stream.open", {"path": path, "offset": offset}).result["stream"]
    pieces: list[bytes] = []
    in_flight = [client.start("stream.read", {"stream": stream, "size": size}) for _ in range(WINDOW)]
    eof = False
    while in_flight:
        reply = client.result(in_flight.pop(0))
        if eof:  # reads sent before the end was seen find the stream closed
            assert reply.error["code"] == 1009
            continue
        assert len(reply.attachment) <= size
        pieces.append(reply.attachment)
        eof = reply.result["eof"]
        if not eof:
            in_flight.append(client.start("stream.read", {"stream": stream, "size": size}))
    assert client.call("stream.close", {"stream": stream}).result is None
    return b"".join(pieces)


def test_write_then_read_back_with_distinct_chunks(inmemory: RawClient) -> None:
    chunks = [os.urandom(size) for size in (1, 65536, 1 << 20, 7, 300_000, 0, 4 << 20)]
    content = b"".join(chunks)
    assert write_all(inmemory, "/blob", 0, chunks) == len(content)
    assert inmemory.call("stat", {"path": "/blob"}).result["size"] == len(content)
    assert read_all(inmemory, "/blob") == content
    assert read_all(inmemory, "/blob", offset=12345, size=1 << 20) == content[12345:]
    assert read_all(inmemory, "/blob", size=4 << 20) == content


def test_write_stream_at_an_offset_cuts_or_extends_the_old_content(filesystem: RawClient) -> None:
    assert filesystem.call("put_content", {"path": "/f"}, b"0123456789").result is None
    assert write_all(filesystem, "/f", 4, [b"ab"]) == 2
    assert filesystem.call("get_content", {"path": "/f"}).attachment == b"0123ab"
    assert write_all(filesystem, "/f", 9, [b"Z"]) == 1
    assert filesystem.call("get_content", {"path": "/f"}).attachment == b"0123ab\0\0\0Z"


def test_read_stream_edges(inmemory: RawClient) -> None:
    assert inmemory.call("put_content", {"path": "/a/b"}, b"hello").result is None
    for offset in (5, 6, 1000):
        stream = inmemory.call("read_stream.open", {"path": "/a/b", "offset": offset}).result["stream"]
        reply = inmemory.call("stream.read", {"stream": stream, "size": 10})
        assert reply.result == {"eof": True}
        assert reply.attachment == b""
        assert inmemory.call("stream.read", {"stream": stream, "size": 10}).error["code"] == 1009
        assert inmemory.call("stream.close", {"stream": stream}).result is None
    for offset in (0, 3, 100):
        error = inmemory.call("read_stream.open", {"path": "/nope", "offset": offset}).error
        assert error["code"] == 1001
    assert inmemory.call("read_stream.open", {"path": "/a", "offset": 0}).error["code"] == 1001
    stream = inmemory.call("read_stream.open", {"path": "/a/b", "offset": 1}).result["stream"]
    reply = inmemory.call("stream.read", {"stream": stream, "size": 2})
    assert (reply.result, reply.attachment) == ({"eof": False}, b"el")
    reply = inmemory.call("stream.read", {"stream": stream, "size": 2})
    assert (reply.result, reply.attachment) == ({"eof": False}, b"lo")
    reply = inmemory.call("stream.read", {"stream": stream, "size": 2})
    assert (reply.result, reply.attachment) == ({"eof": True}, b"")
    assert inmemory.call("stream.close", {"stream": 12345}).result is None
    assert inmemory.call("stream.cancel", {"stream": 12345}).result is None


def test_read_stream_cancel_is_close(inmemory: RawClient) -> None:
    assert inmemory.call("put_content", {"path": "/r"}, b"x" * 100).result is None
    stream = inmemory.call("read_stream.open", {"path": "/r", "offset": 0}).result["stream"]
    assert inmemory.call("stream.read", {"stream": stream, "size": 10}).attachment == b"x" * 10
    assert inmemory.call("stream.cancel", {"stream": stream}).result is None
    assert inmemory.call("stream.read", {"stream": stream, "size": 10}).error["code"] == 1009


def test_a_read_stream_is_not_a_write_stream(inmemory: RawClient) -> None:
    assert inmemory.call("put_content", {"path": "/r"}, b"abc").result is None
    reader = inmemory.call("read_stream.open", {"path": "/r", "offset": 0}).result["stream"]
    assert inmemory.call("stream.write", {"stream": reader}, b"x").error["code"] == 1009
    writer = inmemory.call("write_stream.open", {"path": "/w", "offset": 0}).result["stream"]
    assert inmemory.call("stream.read", {"stream": writer, "size": 1}).error["code"] == 1009
    assert inmemory.call("stream.close", {"stream": writer}).result == {"written": 0}
    assert inmemory.call("get_content", {"path": "/w"}).attachment == b""


def test_stream_ids_are_unique_integers(inmemory: RawClient) -> None:
    assert inmemory.call("put_content", {"path": "/r"}, b"abc").result is None
    ids = [inmemory.call("read_stream.open", {"path": "/r", "offset": 0}).result["stream"] for _ in range(5)]
    assert len(set(ids)) == 5
    assert all(isinstance(stream, int) for stream in ids)


def test_64_concurrent_streams_keep_every_byte(inmemory: RawClient) -> None:
    count, chunk_size, chunks_per_stream = 64, 64 << 10, 12
    contents = {f"/streams/s{index:02}": os.urandom(chunk_size * chunks_per_stream - index) for index in range(count)}
    failures: list[BaseException] = []
    read_back: dict[str, str] = {}
    barrier = threading.Barrier(count)

    def one_stream(path: str, content: bytes) -> None:
        try:
            chunks = [content[start : start + chunk_size] for start in range(0, len(content), chunk_size)]
            barrier.wait(30)
            assert write_all(inmemory, path, 0, chunks) == len(content)
            barrier.wait(30)
            read_back[path] = hashlib.sha256(read_all(inmemory, path, size=50_000)).hexdigest()
        except BaseException as error:
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=one_stream, args=item) for item in contents.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures[0]
    assert read_back == {path: hashlib.sha256(content).hexdigest() for path, content in contents.items()}
    listing = inmemory.call("list", {"path": "/streams"}).result["paths"]
    assert listing == sorted(contents)


def check_base_plus_prefix(content: bytes, base: bytes, sent: bytes) -> int:
    """Assert ``content`` is ``base`` followed by a prefix of ``sent``; returns the prefix length."""
    assert content[: len(base)] == base
    prefix = content[len(base) :]
    assert sent.startswith(prefix)
    return len(prefix)


@pytest.mark.parametrize("driver", ["inmemory", "filesystem"])
@pytest.mark.parametrize("offset", [5, 15])
def test_write_stream_cancel_keeps_base_plus_prefix(spawn: Spawn, tmp_path: Path, driver: str, offset: int) -> None:
    parameters = {"rootdirectory": str(tmp_path / "store")} if driver == "filesystem" else {}
    client = spawn(driver_command(driver, parameters))
    client.handshake()
    assert client.call("put_content", {"path": "/f"}, b"0123456789").result is None
    stream = client.call("write_stream.open", {"path": "/f", "offset": offset}).result["stream"]
    sent = b"".join(bytes([65 + index]) * 1000 for index in range(6))
    for start in range(0, len(sent), 1000):
        assert client.call("stream.write", {"stream": stream}, sent[start : start + 1000]).result is None
    assert client.call("stream.cancel", {"stream": stream}).result is None
    base = (b"0123456789" + bytes(10))[:offset]
    content = client.call("get_content", {"path": "/f"}).attachment
    prefix = check_base_plus_prefix(content, base, sent)
    assert client.call("stat", {"path": "/f"}).result["size"] == offset + prefix
    assert client.call("stream.close", {"stream": stream}).result is None
    assert client.call("stream.write", {"stream": stream}, b"late").error["code"] == 1009


def test_end_of_input_cancels_open_write_streams(spawn: Spawn, tmp_path: Path) -> None:
    command = driver_command("filesystem", {"rootdirectory": str(tmp_path / "store")})
    client = spawn(command)
    client.handshake()
    assert client.call("put_content", {"path": "/f"}, b"base").result is None
    stream = client.call("write_stream.open", {"path": "/f", "offset": 4}).result["stream"]
    sent = os.urandom(300_000)
    for start in range(0, len(sent), 100_000):
        assert client.call("stream.write", {"stream": stream}, sent[start : start + 100_000]).result is None
    client.close_stdin()
    assert client.wait() == 0
    again = spawn(command)
    again.handshake()
    content = again.call("get_content", {"path": "/f"}).attachment
    check_base_plus_prefix(content, b"base", sent)


def test_a_blocked_stream_does_not_block_other_calls(gated: RawClient) -> None:
    stream = gated.call("write_stream.open", {"path": "/gated/slow", "offset": 0}).result["stream"]
    writes = [gated.start("stream.write", {"stream": stream}, b"chunk") for _ in range(WINDOW)]
    assert gated.call("put_content", {"path": "/other"}, b"fast").result is None
    assert gated.call("get_content", {"path": "/other"}).attachment == b"fast"
    assert gated.call("ping").result == {}
    open_gate(gated)
    assert all(gated.result(request_id).result is None for request_id in writes)
    assert gated.call("stream.close", {"stream": stream}).result == {"written": 5 * WINDOW}


def send_writes(client: RawClient, stream: int, chunks: list[bytes]) -> list[int]:
    """Send one ``stream.write`` per chunk without waiting; their answers arrive through ``next_reply``."""
    ids = [client.new_id() for _ in chunks]
    for request_id, chunk in zip(ids, chunks, strict=True):
        client.send({"jsonrpc": "2.0", "method": "stream.write", "params": {"stream": stream}, "id": request_id}, chunk)
    return ids


def collect(client: RawClient, ids: list[int], answered: dict[int, Reply]) -> None:
    """Receive answers until every id in ``ids`` has one; each id is answered exactly once."""
    while not set(ids) <= set(answered):
        reply = client.next_reply()
        request_id = reply.message["id"]
        assert request_id in ids, reply.message
        assert request_id not in answered, reply.message
        answered[request_id] = reply


def test_exceeding_the_stream_window_gets_1009_and_cancels_the_write(gated: RawClient) -> None:
    """With the driver stuck, at most 3 writes are taken (one by the driver, two queued) and the rest stay
    unanswered, so one of the 5th to 8th writes exceeds the window of 4 (the 5th when none was answered yet)."""
    stream = gated.call("write_stream.open", {"path": "/gated/w", "offset": 0}).result["stream"]
    chunks = [b"%02d" % index for index in range(8)]
    ids = send_writes(gated, stream, chunks)
    answered: dict[int, Reply] = {}
    while True:
        reply = gated.next_reply()
        answered[reply.message["id"]] = reply
        if "error" in reply.message:
            break
    assert reply.message["id"] in ids[4:], reply.message
    assert reply.error["code"] == 1009
    assert reply.error["data"]["reason"].startswith("stream window exceeded")
    assert all(answer.result is None for answer in answered.values() if answer is not reply)
    open_gate(gated)
    collect(gated, ids, answered)
    for answer in answered.values():
        assert "result" in answer.message or answer.error["code"] in (1007, 1009)
    close = gated.call("stream.close", {"stream": stream}).error
    assert close["code"] == 1007
    assert close["data"] == {"type": "OperationCancelledError", "driver": "gated", "operation": "write_stream"}
    check_base_plus_prefix(gated.call("get_content", {"path": "/gated/w"}).attachment, b"", b"".join(chunks))
    assert gated.no_reply()


def test_max_streams_gets_1009(spawn: Spawn) -> None:
    client = spawn(gated_command(max_streams=3))
    assert client.handshake().result["limits"]["max_streams"] == 3
    assert client.call("put_content", {"path": "/r"}, b"abc").result is None
    streams = [client.call("read_stream.open", {"path": "/r", "offset": 0}).result["stream"] for _ in range(3)]
    error = client.call("write_stream.open", {"path": "/w", "offset": 0}).error
    assert error["code"] == 1009
    assert "too many open streams" in error["data"]["reason"]
    assert client.call("read_stream.open", {"path": "/r", "offset": 0}).error["code"] == 1009
    assert client.call("stream.close", {"stream": streams[0]}).result is None
    assert isinstance(client.call("write_stream.open", {"path": "/w", "offset": 0}).result["stream"], int)


def test_a_chunk_over_max_chunk_bytes_gets_1009_and_cancels_the_write(inmemory: RawClient) -> None:
    stream = inmemory.call("write_stream.open", {"path": "/w", "offset": 0}).result["stream"]
    assert inmemory.call("stream.write", {"stream": stream}, b"ok").result is None
    error = inmemory.call("stream.write", {"stream": stream}, bytes((4 << 20) + 1)).error
    assert error["code"] == 1009
    assert "max_chunk_bytes" in error["data"]["reason"]
    assert inmemory.call("stream.close", {"stream": stream}).error["code"] == 1007
    assert inmemory.call("get_content", {"path": "/w"}).attachment in (b"", b"ok")


def cancelled(reply: Reply, operation: str) -> bool:
    error: dict[str, Any] = reply.error
    assert error["code"] == -32800, error
    assert error["data"] == {"type": "OperationCancelledError", "driver": "gated", "operation": operation}
    return True


def test_cancel_answers_a_queued_request_with_32800(spawn: Spawn) -> None:
    client = spawn(gated_command(workers=1))
    client.handshake()
    assert client.call("put_content", {"path": "/a"}, b"a").result is None
    running = client.start("stat", {"path": "/gated/x"})
    client.wait_for_stderr("stray print during stat /gated/x")  # it runs, waiting at the gate
    queued = client.start("stat", {"path": "/a"})
    client.notify("$/cancel", {"id": queued})
    assert cancelled(client.result(queued), "stat")
    client.notify("$/cancel", {"id": running})  # already running: it finishes normally
    client.notify("$/cancel", {"id": 424242})  # unknown: ignored
    open_gate(client)
    assert client.result(running).error["code"] == 1001
    assert client.call("stat", {"path": "/a"}).result["size"] == 1
    assert client.no_reply()


def test_cancel_of_a_queued_stream_request_cancels_the_stream(gated: RawClient) -> None:
    """With the driver stuck after its first chunk, two writes are answered (the queue holds two chunks); of three
    more, one or two wait for room, so the last is certainly still queued, and the window of 4 is respected."""
    stream = gated.call("write_stream.open", {"path": "/gated/c", "offset": 0}).result["stream"]
    answered: dict[int, Reply] = {}
    ids = send_writes(gated, stream, [b"x"] * 2)
    collect(gated, ids, answered)
    gated.wait_for_stderr(f"{HOLDING} /gated/c")  # the first chunk is the driver's; the queue holds one
    ids += send_writes(gated, stream, [b"x"] * 3)
    gated.notify("$/cancel", {"id": ids[-1]})
    while ids[-1] not in answered:
        reply = gated.next_reply()
        answered[reply.message["id"]] = reply
    assert cancelled(answered[ids[-1]], "stream.write")
    open_gate(gated)
    collect(gated, ids, answered)
    assert gated.call("stream.close", {"stream": stream}).error["code"] == 1007
    assert gated.no_reply()


def test_stream_cancel_interrupts_writes_waiting_for_a_stuck_driver(gated: RawClient) -> None:
    """The driver holds its first chunk; the queue holds two more; a fourth waits for room until the cancel."""
    stream = gated.call("write_stream.open", {"path": "/gated/s", "offset": 0}).result["stream"]
    answered: dict[int, Reply] = {}
    ids = send_writes(gated, stream, [b"a", b"b"])
    collect(gated, ids, answered)
    gated.wait_for_stderr(f"{HOLDING} /gated/s")  # the first chunk is the driver's; the queue holds one
    ids += send_writes(gated, stream, [b"c", b"d"])
    cancel = gated.new_id()
    gated.send({"jsonrpc": "2.0", "method": "stream.cancel", "params": {"stream": stream}, "id": cancel})
    waiting = [request_id for request_id in ids if request_id not in answered]
    collect(gated, waiting, answered)
    assert any("error" in answered[request_id].message for request_id in waiting)
    for request_id in waiting:
        reply = answered[request_id]
        assert "result" in reply.message or reply.error["data"]["operation"] == "write_stream"
    assert gated.no_reply(), "the cancel was answered while the driver still held a chunk"
    open_gate(gated)
    reply = gated.next_reply()
    assert reply.message == {"jsonrpc": "2.0", "result": None, "id": cancel}
    check_base_plus_prefix(gated.call("get_content", {"path": "/gated/s"}).attachment, b"", b"abcd")
