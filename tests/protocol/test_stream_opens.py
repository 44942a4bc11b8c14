"""Protocol 1.2: a stream's open carries its first chunk (protocol.md section 7), so a small ranged read or a small
write costs one round trip; and a ``stream.cancel`` frees its place under ``max_streams`` as soon as it arrives.
A 1.1 session gets none of it, exactly as a 1.1 driver would answer."""

from __future__ import annotations

import pytest

from registry_storage.wire import errors as codes

from .conftest import Spawn
from .rawclient import RawClient, driver_command

CONTENT = bytes(range(256)) * 64  # 16 KiB


def session(spawn: Spawn, version: str) -> RawClient:
    client = spawn(driver_command("inmemory"))
    assert client.handshake([version]).result["version"] == version
    assert client.call("put_content", {"path": "/f"}, CONTENT).result is None
    return client


def test_a_read_open_with_a_size_answers_the_first_bytes_and_the_stream_goes_on(spawn: Spawn) -> None:
    client = session(spawn, "1.2")
    opened = client.call("read_stream.open", {"path": "/f", "offset": 100, "size": 1000})
    assert opened.result == {"stream": opened.result["stream"], "eof": False}
    assert opened.attachment == CONTENT[100:1100]
    rest = client.call("stream.read", {"stream": opened.result["stream"], "size": 1 << 20})
    assert rest.attachment == CONTENT[1100:]
    assert rest.result == {"eof": True}


def test_a_read_open_that_reaches_the_end_closes_the_stream(spawn: Spawn) -> None:
    client = session(spawn, "1.2")
    opened = client.call("read_stream.open", {"path": "/f", "offset": 16000, "size": 4096})
    assert opened.result["eof"] is True
    assert opened.attachment == CONTENT[16000:]
    later = client.call("stream.read", {"stream": opened.result["stream"], "size": 10})
    assert later.error["code"] == codes.PROTOCOL_STATE_ERROR  # closed by the driver, as after any eof
    assert client.call("stream.close", {"stream": opened.result["stream"]}).result is None


@pytest.mark.parametrize("size", [0, -1, "10", 1.5, True, (4 << 20) + 1])
def test_a_bad_size_is_invalid_params_and_opens_nothing(spawn: Spawn, size: object) -> None:
    client = session(spawn, "1.2")
    refused = client.call("read_stream.open", {"path": "/f", "offset": 0, "size": size})
    assert refused.error["code"] == codes.INVALID_PARAMS
    assert client.call("read_stream.open", {"path": "/f", "offset": 0}).result == {"stream": 1}  # none was opened


def test_a_write_open_carrying_everything_and_close_writes_in_one_request(spawn: Spawn) -> None:
    client = session(spawn, "1.2")
    written = client.call("write_stream.open", {"path": "/f", "offset": 10, "close": True}, b"new bytes")
    assert written.result == {"written": 9}
    assert client.call("get_content", {"path": "/f"}).attachment == CONTENT[:10] + b"new bytes"
    empty = client.call("write_stream.open", {"path": "/g", "offset": 0, "close": True})
    assert empty.result == {"written": 0}
    assert client.call("stat", {"path": "/g"}).result["size"] == 0


def test_a_write_open_carrying_a_chunk_starts_the_content_with_it(spawn: Spawn) -> None:
    client = session(spawn, "1.2")
    stream = client.call("write_stream.open", {"path": "/w", "offset": 0}, b"first ").result["stream"]
    assert client.call("stream.write", {"stream": stream}, b"second").result is None
    assert client.call("stream.close", {"stream": stream}).result == {"written": 12}
    assert client.call("get_content", {"path": "/w"}).attachment == b"first second"


def test_a_put_open_carrying_everything_and_close_replaces_the_content(spawn: Spawn) -> None:
    client = session(spawn, "1.2")
    assert client.call("put_content.open", {"path": "/f", "close": True}, b"replaced").result == {"written": 8}
    assert client.call("get_content", {"path": "/f"}).attachment == b"replaced"
    stream = client.call("put_content.open", {"path": "/f"}, b"a").result["stream"]
    client.call("stream.write", {"stream": stream}, b"b")
    assert client.call("get_content", {"path": "/f"}).attachment == b"replaced"  # nothing changes before the close
    assert client.call("stream.close", {"stream": stream}).result == {"written": 2}
    assert client.call("get_content", {"path": "/f"}).attachment == b"ab"


def test_an_open_chunk_over_max_chunk_bytes_is_refused_and_writes_nothing(spawn: Spawn) -> None:
    client = session(spawn, "1.2")
    big = bytes((4 << 20) + 1)
    refused = client.call("write_stream.open", {"path": "/f", "offset": 0, "close": True}, big)
    assert refused.error["code"] == codes.PROTOCOL_STATE_ERROR
    assert client.call("get_content", {"path": "/f"}).attachment == CONTENT
    refused = client.call("put_content.open", {"path": "/f"}, big)
    assert refused.error["code"] == codes.PROTOCOL_STATE_ERROR
    assert client.call("get_content", {"path": "/f"}).attachment == CONTENT


@pytest.mark.parametrize("close", [1, "true", None, [True]])
def test_close_must_be_a_boolean(spawn: Spawn, close: object) -> None:
    client = session(spawn, "1.2")
    params = {"path": "/f", "offset": 0, "close": close}
    answer = client.call("write_stream.open", params, b"x")
    if close is None:  # null is the same as leaving it out
        assert "stream" in answer.result
        client.call("stream.cancel", {"stream": answer.result["stream"]})
    else:
        assert answer.error["code"] == codes.INVALID_PARAMS
        assert client.call("get_content", {"path": "/f"}).attachment == CONTENT


def test_a_1_1_session_ignores_the_new_members_and_attachments(spawn: Spawn) -> None:
    client = session(spawn, "1.1")
    opened = client.call("read_stream.open", {"path": "/f", "offset": 0, "size": 10})
    assert list(opened.result) == ["stream"]
    assert opened.attachment == b""
    stream = client.call("write_stream.open", {"path": "/f", "offset": 0, "close": True}, b"ignored").result["stream"]
    assert client.call("stream.close", {"stream": stream}).result == {"written": 0}
    assert client.call("get_content", {"path": "/f"}).attachment == b""  # cut to the offset, nothing written


def test_a_cancelled_stream_frees_its_place_before_its_answer(spawn: Spawn) -> None:
    client = session(spawn, "1.2")
    streams = []
    for _ in range(256):  # the host's max_streams
        opened = client.call("read_stream.open", {"path": "/f", "offset": 0})
        streams.append(opened.result["stream"])
    assert client.call("read_stream.open", {"path": "/f", "offset": 0}).error["code"] == codes.PROTOCOL_STATE_ERROR
    cancel = client.start("stream.cancel", {"stream": streams[0]})
    reopened = client.start("read_stream.open", {"path": "/f", "offset": 0})  # sent before the cancel's answer
    assert "stream" in client.result(reopened).result
    assert client.result(cancel).result is None
