"""The sans-IO client core and the programs, byte by byte: no process, no thread, no event loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest
from jsonrpcclient import Error, Ok

from registry_storage.errors import PathNotFoundError, ProtocolError
from registry_storage.wire.frames import Frame, FrameDecoder, encode_frame
from registry_storage.wire.handshake import Limits

if TYPE_CHECKING:  # mypy reads the package from its folder; installed, it is registry_storage.client
    from client import calls
    from client.core import ClientCore
else:
    from registry_storage.client import calls
    from registry_storage.client.core import ClientCore


def answer_bytes(request_id: int, result: Any = None, attachment: bytes = b"", error: Any = None) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    body["error" if error is not None else "result"] = error if error is not None else result
    return b"".join(bytes(piece) for piece in encode_frame(orjson.dumps(body), attachment))


def sent(pieces: list[bytes | memoryview]) -> dict[str, Any]:
    decoder = FrameDecoder()
    decoder.feed(b"".join(bytes(piece) for piece in pieces))
    frame = decoder.next_event()
    assert isinstance(frame, Frame)
    message: dict[str, Any] = orjson.loads(frame.message)
    return message


def test_requests_are_numbered_and_always_carry_a_params_object() -> None:
    core: ClientCore[str] = ClientCore("d")
    first, _, pieces = core.request("ping", {})
    second, _, _ = core.request("stat", {"path": "/a"})
    assert (first, second) == (1, 2)
    assert sent(pieces) == {"jsonrpc": "2.0", "method": "ping", "params": {}, "id": 1}


def test_limits_are_checked_before_anything_is_sent() -> None:
    core: ClientCore[str] = ClientCore("d")
    core.peer_limits = Limits(max_attachment_bytes=10)
    with pytest.raises(ProtocolError, match="max_attachment_bytes"):
        core.request("put_content", {"path": "/a"}, bytes(11))


def test_answers_split_at_every_byte_reach_their_calls_and_strays_are_dropped() -> None:
    core: ClientCore[str] = ClientCore("d")
    one, _, _ = core.request("stat", {})
    two, _, _ = core.request("get_content", {})
    core.register(one, "first")
    core.register(two, "second")
    data = answer_bytes(99, "stray") + answer_bytes(two, {"size": 3}, b"abc") + answer_bytes(one, {"ok": 1})
    matched: list[tuple[str, Any, bytes]] = []
    for index in range(len(data)):
        core.receive(data[index : index + 1])
        for call, response, attachment in core.answers():
            assert isinstance(response, Ok)
            matched.append((call, response.result, bytes(attachment)))
    assert matched == [("second", {"size": 3}, b"abc"), ("first", {"ok": 1}, b"")]
    assert core.pending_count == 0


def drive(program: calls.Program[Any], replies: list[Any]) -> tuple[Any, list[Any]]:
    """Run ``program`` against scripted replies; returns its result and the instructions it gave."""
    given: list[Any] = []
    value: Any = None
    try:
        while True:
            instruction = program.send(value)
            given.append(instruction)
            value = replies.pop(0) if not isinstance(instruction, calls.Emit) else None
    except StopIteration as stop:
        return stop.value, given


def test_get_content_over_the_attachment_limit_falls_back_to_a_stream() -> None:
    core: ClientCore[Any] = ClientCore("d")
    too_big = Error(1009, "over the limit", None, 1)
    replies = [
        "t1",
        (too_big, b""),
        "t2",
        (Ok({"stream": 5}, 2), b""),
        "t3",
        (Ok({"eof": True}, 3), b"whole"),
    ]
    result, given = drive(calls.get_content(core, "/a", 1024, 1.0), replies)
    assert result == b"whole"
    assert [instruction.method for instruction in given if isinstance(instruction, calls.Send)] == [
        "get_content",
        "read_stream.open",
        "stream.read",
    ]


def test_errors_come_back_as_the_same_exception_type() -> None:
    core: ClientCore[Any] = ClientCore("d")
    missing = Error(1001, "path not found: /a", {"type": "PathNotFoundError", "path": "/a"}, 1)
    with pytest.raises(PathNotFoundError) as caught:
        drive(calls.stat(core, "/a"), ["t", (missing, b"")])
    assert caught.value.path == "/a"
    assert caught.value.driver == "d"


def test_a_stream_opened_after_its_call_was_given_up_is_cancelled_on_the_driver() -> None:
    core: ClientCore[str] = ClientCore("d")
    opening, _, _ = core.request("write_stream.open", {"path": "/a", "offset": 0})
    statting, _, _ = core.request("stat", {"path": "/a"})
    core.register(opening, "open")
    core.register(statting, "stat")
    core.forget(opening)  # a cancelled task or a deadline: the answer will be dropped
    core.forget(statting)
    core.receive(answer_bytes(opening, {"stream": 7}) + answer_bytes(statting, {"stream": 8}))
    assert list(core.answers()) == []
    frames = core.orphan_cancel_frames()
    assert [sent([frame])["method"] for frame in frames] == ["stream.cancel"]
    assert sent([frames[0]])["params"] == {"stream": 7}
    assert core.orphan_cancel_frames() == []


def _sends(given: list[Any]) -> list[tuple[str, dict[str, Any], bytes]]:
    return [
        (instruction.method, dict(instruction.params), bytes(instruction.attachment))
        for instruction in given
        if isinstance(instruction, calls.Send)
    ]


def drive_write(program: calls.Program[int], chunks: list[bytes], replies: list[Any]) -> tuple[int, list[Any]]:
    """Run a write program: :class:`Pull` takes the next of ``chunks``, anything else the next scripted reply."""
    source = iter(chunks)
    given: list[Any] = []
    value: Any = None
    while True:
        try:
            instruction = program.send(value)
        except StopIteration as stop:
            return stop.value, given
        given.append(instruction)
        value = next(source, b"") if isinstance(instruction, calls.Pull) else replies.pop(0)


def test_in_1_2_a_small_write_is_one_request_carrying_its_content_and_closing_the_stream() -> None:
    core: ClientCore[Any] = ClientCore("d")
    core.version = (1, 2)
    program = calls.write_stream(core, "/a", 3, chunk_bytes=1024, cancel_timeout=1.0)
    written, given = drive_write(program, [b"payload"], ["t1", (Ok({"written": 7}, 1), b"")])
    assert written == 7
    assert _sends(given) == [("write_stream.open", {"path": "/a", "offset": 3, "close": True}, b"payload")]


def test_in_1_2_a_longer_write_opens_empty_and_sends_every_piece_as_a_write() -> None:
    # a first piece riding on the open could land after the caller gave the open up (a cancelled task): the stream's
    # id is not known yet, so nothing could cancel it and wait; an empty open leaves nothing to land
    core: ClientCore[Any] = ClientCore("d")
    core.version = (1, 2)
    program = calls.write_stream(core, "/a", 0, chunk_bytes=4, cancel_timeout=1.0)  # pieces of at most 4 bytes
    replies = ["t1", (Ok({"stream": 9}, 1), b""), *["t"] * 4, *[(Ok(None, 0), b"")] * 4, "t6"]
    replies += [(Ok({"written": 12}, 6), b"")]
    written, given = drive_write(program, [b"0123456789", b"ab"], replies)
    assert written == 12
    sends = _sends(given)
    assert sends[0] == ("write_stream.open", {"path": "/a", "offset": 0}, b"")
    assert [attachment for method, _, attachment in sends[1:-1]] == [b"0123", b"4567", b"89", b"ab"]
    assert sends[-1][0] == "stream.close"


def test_in_1_1_the_open_carries_nothing() -> None:
    core: ClientCore[Any] = ClientCore("d")
    core.version = (1, 1)
    program = calls.write_stream(core, "/a", 0, chunk_bytes=1024, cancel_timeout=1.0)
    instruction = program.send(None)
    assert isinstance(instruction, calls.Send)
    assert (instruction.method, dict(instruction.params), instruction.attachment) == (
        "write_stream.open",
        {"path": "/a", "offset": 0},
        b"",
    )
    opening = calls.ReadPuller.open(core, "/a", 5, chunk_bytes=1024, cancel_timeout=1.0)
    instruction = opening.send(None)
    assert isinstance(instruction, calls.Send)
    assert dict(instruction.params) == {"path": "/a", "offset": 5}


def test_in_1_2_a_read_starts_small_with_the_open_grows_and_is_closed_without_waiting() -> None:
    core: ClientCore[Any] = ClientCore("d")
    core.version = (1, 2)
    first = bytes(calls.READ_AHEAD_FIRST)
    puller, given = drive(
        calls.ReadPuller.open(core, "/a", 5, chunk_bytes=1 << 20, cancel_timeout=1.0),
        ["t1", (Ok({"stream": 4, "eof": False}, 1), first)],
    )
    assert _sends(given) == [("read_stream.open", {"path": "/a", "offset": 5, "size": calls.READ_AHEAD_FIRST}, b"")]
    chunk, given = drive(puller.next_chunk(), [])
    assert chunk == first  # the open's bytes...
    assert given == []  # ...with no request
    growth = calls.READ_AHEAD_FIRST * calls.READ_AHEAD_GROWTH
    replies = ["t2", "t3", (Ok({"eof": False}, 2), bytes(growth)), "t4", "t5"]
    chunk, given = drive(puller.next_chunk(), replies)
    assert len(chunk) == growth
    sizes = [params["size"] for method, params, _ in _sends(given)]
    assert sizes == [growth, growth * calls.READ_AHEAD_GROWTH, 1 << 20, 1 << 20]  # a wider window, up to the chunk
    _, given = drive(puller.close(), [None, None, None, "t6", None])
    assert [type(instruction).__name__ for instruction in given] == ["Drop", "Drop", "Drop", "Send", "Drop"]
    assert _sends(given) == [("stream.cancel", {"stream": 4}, b"")]


def test_in_1_2_a_read_answered_whole_by_its_open_sends_nothing_more() -> None:
    core: ClientCore[Any] = ClientCore("d")
    core.version = (1, 2)
    puller, _ = drive(
        calls.ReadPuller.open(core, "/a", 0, chunk_bytes=1 << 20, cancel_timeout=1.0),
        ["t1", (Ok({"stream": 4, "eof": True}, 1), b"small")],
    )
    assert drive(puller.next_chunk(), []) == (b"small", [])
    assert drive(puller.next_chunk(), []) == (None, [])
    assert drive(puller.close(), []) == (None, [])
