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
