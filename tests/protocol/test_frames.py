"""Bad frames on a real pipe (protocol.md section 3): answered with -32600, and the host keeps serving."""

from __future__ import annotations

import pytest

from .rawclient import RawClient

PING = b'{"jsonrpc":"2.0","method":"ping","params":{},"id":77}'
PING_FRAME = b"Content-Length: %d\r\n\r\n%s" % (len(PING), PING)


def expect_frame_error(client: RawClient) -> str:
    reply = client.next_reply()
    assert reply.message["id"] is None
    error = reply.error
    assert error["code"] == -32600
    assert error["data"]["type"] == "ProtocolError"
    return str(error["data"]["reason"])


def expect_ping_answer(client: RawClient) -> None:
    assert client.next_reply().message == {"jsonrpc": "2.0", "result": {}, "id": 77}


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"Content-Length: twelve\r\n\r\n", "bad content-length"),
        (b"Content-Length: -1\r\n\r\n", "bad content-length"),
        (b"Content-Type: application/json\r\n\r\n", "without Content-Length"),
        (b"hello there\r\n\r\n", "malformed header line"),
        (b'Content-Length: 5x\r\n\r\n{"jsonrpc":"2.0","method":"ping","id":1}', "bad content-length"),
    ],
)
def test_malformed_header_is_answered_and_the_next_frame_served(
    inmemory: RawClient, garbage: bytes, reason: str
) -> None:
    inmemory.send_bytes(garbage + PING_FRAME)
    assert reason in expect_frame_error(inmemory)
    expect_ping_answer(inmemory)
    assert inmemory.no_reply()


def test_header_block_over_4096_bytes(inmemory: RawClient) -> None:
    inmemory.send_bytes(b"X-Junk: " + b"j" * 5000 + b"\r\n\r\n" + PING_FRAME)
    assert "longer than 4096" in expect_frame_error(inmemory)
    expect_ping_answer(inmemory)


def test_resync_after_garbage_split_across_writes(inmemory: RawClient) -> None:
    inmemory.send_bytes(b"Content-Len")
    inmemory.send_bytes(b"gth: ??\r\n\r\nsome body bytes that belong to no frame Content-")
    inmemory.send_bytes(b"Length: %d\r\n\r\n%s" % (len(PING), PING))
    assert "bad content-length" in expect_frame_error(inmemory)
    expect_ping_answer(inmemory)


def test_oversized_frames_are_skipped_without_being_held_in_memory(inmemory: RawClient) -> None:
    before = inmemory.high_water_rss()
    chunk = b"\xaa" * (1 << 20)
    attachment = 300 << 20  # over max_attachment_bytes (256 MiB)
    inmemory.send_bytes(b"Content-Length: 2\r\nAttachment-Length: %d\r\n\r\n{}" % attachment)
    for _ in range(attachment >> 20):
        inmemory.send_bytes(chunk)
    reason = expect_frame_error(inmemory)
    assert "attachment of 314572800 bytes exceeds the limit of 268435456 bytes" in reason
    message = 20 << 20  # over max_message_bytes (16 MiB)
    inmemory.send_bytes(b"Content-Length: %d\r\n\r\n" % message)
    for _ in range(message >> 20):
        inmemory.send_bytes(chunk)
    assert "message of 20971520 bytes exceeds the limit of 16777216 bytes" in expect_frame_error(inmemory)
    inmemory.send_bytes(PING_FRAME)
    expect_ping_answer(inmemory)
    assert inmemory.high_water_rss() - before < 16 << 20
    assert inmemory.high_water_rss() < 100 << 20


def test_an_attachment_on_a_method_that_takes_none_is_ignored(inmemory: RawClient) -> None:
    reply = inmemory.call("list", {"path": "/"}, b"ignored bytes")
    assert reply.result == {"paths": []}
    assert reply.attachment == b""
