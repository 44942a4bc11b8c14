"""The wire codec byte by byte: frames, resynchronisation, limits, times, errors and the version rule."""

from __future__ import annotations

import inspect
from datetime import datetime, timezone
from typing import Any

import pytest

from registry_storage import errors
from registry_storage.errors import StorageDriverError
from registry_storage.fileinfo import FileInfo
from registry_storage.wire import (
    ERROR_CODES,
    Frame,
    FrameDecoder,
    FrameError,
    Limits,
    accepts_chosen,
    choose_version,
    code_for,
    dumps,
    encode_frame,
    error_from_wire,
    error_to_wire,
    fileinfo_from_wire,
    fileinfo_to_wire,
    format_time,
    loads,
    parse_time,
    parse_version,
)
from registry_storage.wire.frames import MAX_HEADER_BYTES

Event = Frame | FrameError


def frame_bytes(message: bytes, attachment: bytes = b"") -> bytes:
    return b"".join(bytes(piece) for piece in encode_frame(message, attachment))


def drain(decoder: FrameDecoder) -> list[Event]:
    events: list[Event] = []
    while (event := decoder.next_event()) is not None:
        events.append(event)
    return events


def decode(*pieces: bytes, decoder: FrameDecoder | None = None) -> list[Event]:
    decoder = decoder or FrameDecoder()
    events: list[Event] = []
    for piece in pieces:
        decoder.feed(piece)
        events += drain(decoder)
    return events


def normalised(events: list[Event]) -> list[tuple[str, bytes, bytes] | tuple[str, str]]:
    """Events as comparable tuples (a Frame's attachment may be a bytearray)."""
    return [
        ("frame", event.message, bytes(event.attachment)) if isinstance(event, Frame) else ("error", event.reason)
        for event in events
    ]


# -- encoding ---------------------------------------------------------------------------------------------------


def test_encode_frame_without_attachment() -> None:
    assert frame_bytes(b'{"a":1}') == b'Content-Length: 7\r\n\r\n{"a":1}'


def test_encode_frame_with_attachment_does_not_copy_it() -> None:
    attachment = bytearray(b"hello")
    pieces = encode_frame(b"{}", attachment)
    assert bytes(pieces[0]) == b"Content-Length: 2\r\nAttachment-Length: 5\r\n\r\n"
    assert isinstance(pieces[2], memoryview)
    assert pieces[2].obj is attachment


# -- decoding, split at every position -----------------------------------------------------------------------------


STREAM = (
    frame_bytes(b'{"jsonrpc":"2.0","method":"ping","params":{},"id":1}')
    + frame_bytes(b'{"jsonrpc":"2.0","method":"put_content","params":{"path":"/a"},"id":2}', b"\r\n\r\nbinary\x00")
    + frame_bytes(b"{}", b"x" * 300)
)
EXPECTED = [
    ("frame", b'{"jsonrpc":"2.0","method":"ping","params":{},"id":1}', b""),
    ("frame", b'{"jsonrpc":"2.0","method":"put_content","params":{"path":"/a"},"id":2}', b"\r\n\r\nbinary\x00"),
    ("frame", b"{}", b"x" * 300),
]


def test_whole_stream_decodes() -> None:
    assert normalised(decode(STREAM)) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_at_every_position(cut: int) -> None:
    assert normalised(decode(STREAM[:cut], STREAM[cut:])) == EXPECTED


def test_one_byte_at_a_time() -> None:
    decoder = FrameDecoder()
    events: list[Event] = []
    for index in range(len(STREAM)):
        decoder.feed(STREAM[index : index + 1])
        events += drain(decoder)
    assert normalised(events) == EXPECTED
    assert decoder.buffered == 0


def test_header_names_are_case_insensitive_and_unknown_headers_ignored() -> None:
    data = b"content-length: 2\r\nContent-Type: application/json\r\nATTACHMENT-LENGTH: 3\r\n\r\n{}abc"
    assert normalised(decode(data)) == [("frame", b"{}", b"abc")]


def test_spaces_around_the_colon_and_leading_zeros_are_accepted() -> None:
    body = b'{"id":7}'
    events = decode(b"Content-Length \t:  00%d \r\nAttachment-Length:0001\r\n\r\n%sZ" % (len(body), body))
    assert normalised(events) == [("frame", body, b"Z")]


def test_zero_attachment_length_header() -> None:
    assert normalised(decode(b"Content-Length: 2\r\nAttachment-Length: 0\r\n\r\n{}")) == [("frame", b"{}", b"")]


# -- malformed headers and resynchronisation ----------------------------------------------------------------------

GOOD = frame_bytes(b'{"id":7}')


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"Content-Length: abc\r\n\r\n", "bad content-length"),
        (b"Content-Length: -5\r\n\r\n", "bad content-length"),
        (b"Content-Length: +5\r\n\r\n", "bad content-length"),
        (b"Content-Length: 1234567890123456\r\n\r\n", "bad content-length"),
        (b"Content-Length: 2\r\nAttachment-Length: x\r\n\r\n", "bad attachment-length"),
        (b"Content-Type: text/plain\r\n\r\n", "without Content-Length"),
        (b"no colon here\r\n\r\n", "malformed header line"),
        (b"\r\n\r\n", "malformed header line"),
        (b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n", "more than one content-length"),
        (b"Content-Length: 2\r\nattachment-length: 1\r\nAttachment-Length: 3\r\n\r\n", "more than one attach"),
        (b"Content-Length: 5\nX: y\r\n\r\n", "bad content-length"),
    ],
)
def test_malformed_header_is_reported_then_the_next_frame_decodes(header: bytes, reason: str) -> None:
    events = decode(header + GOOD)
    assert len(events) == 2
    assert isinstance(events[0], FrameError)
    assert reason in events[0].reason
    assert normalised(events[1:]) == [("frame", b'{"id":7}', b"")]


def test_resync_skips_a_body_that_follows_a_bad_header() -> None:
    """The next frame starts right after the body, not on a new line: resync finds it anyway."""
    events = decode(b'Content-Length: 1x\r\n\r\n{"jsonrpc":"2.0"}' + GOOD)
    assert [type(event) for event in events] == [FrameError, Frame]
    assert normalised(events[1:]) == [("frame", b'{"id":7}', b"")]


@pytest.mark.parametrize("cut", range(1, 40))
def test_resync_across_feeds(cut: int) -> None:
    data = b"Content-Length: zz\r\n\r\ngarbage garbage" + GOOD
    events = decode(data[:cut], data[cut:])
    assert [type(event) for event in events] == [FrameError, Frame]


def test_resync_discards_long_garbage_without_keeping_it() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"Content-Length: no\r\n\r\n")
    assert isinstance(decoder.next_event(), FrameError)
    for _ in range(100):
        decoder.feed(b"g" * 10_000)
        assert decoder.next_event() is None
        assert decoder.buffered < 16
    decoder.feed(GOOD)
    assert normalised(drain(decoder)) == [("frame", b'{"id":7}', b"")]


def test_header_block_over_the_limit() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"X-Padding: " + b"p" * MAX_HEADER_BYTES)
    event = decoder.next_event()
    assert isinstance(event, FrameError)
    assert "longer than" in event.reason
    decoder.feed(b"\r\n\r\n" + GOOD)
    assert normalised(drain(decoder)) == [("frame", b'{"id":7}', b"")]


def test_header_block_up_to_the_limit_is_accepted() -> None:
    padding = b"X: " + b"p" * (MAX_HEADER_BYTES - len(b"Content-Length: 2\r\nX: "))
    header = b"Content-Length: 2\r\n" + padding
    assert len(header) == MAX_HEADER_BYTES
    assert normalised(decode(header + b"\r\n\r\n{}")) == [("frame", b"{}", b"")]


@pytest.mark.parametrize("cut", range(MAX_HEADER_BYTES - 2, MAX_HEADER_BYTES + 5))
def test_header_block_at_the_limit_is_accepted_however_the_terminator_is_split(cut: int) -> None:
    padding = b"X: " + b"p" * (MAX_HEADER_BYTES - len(b"Content-Length: 2\r\nX: "))
    data = b"Content-Length: 2\r\n" + padding + b"\r\n\r\n{}" + GOOD
    assert normalised(decode(data[:cut], data[cut:])) == [("frame", b"{}", b""), ("frame", b'{"id":7}', b"")]


@pytest.mark.parametrize("cut", range(MAX_HEADER_BYTES - 2, MAX_HEADER_BYTES + 6))
def test_header_block_one_byte_over_the_limit_is_refused_however_it_is_split(cut: int) -> None:
    padding = b"X: " + b"p" * (MAX_HEADER_BYTES + 1 - len(b"Content-Length: 2\r\nX: "))
    data = b"Content-Length: 2\r\n" + padding + b"\r\n\r\n{}" + GOOD
    events = normalised(decode(data[:cut], data[cut:]))
    assert len(events) == 2
    assert events[0][0] == "error"
    assert "longer than" in str(events[0][1])
    assert events[1] == ("frame", b'{"id":7}', b"")


# -- oversized frames -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "which"),
    [
        (b"Content-Length: 101\r\n\r\n", "message of 101 bytes"),
        (b"Content-Length: 2\r\nAttachment-Length: 1001\r\n\r\n", "attachment of 1001 bytes"),
    ],
)
def test_oversized_frame_is_reported_and_skipped_without_buffering(header: bytes, which: str) -> None:
    decoder = FrameDecoder(max_message_bytes=100, max_attachment_bytes=1000)
    decoder.feed(header)
    event = decoder.next_event()
    assert isinstance(event, FrameError)
    assert which in event.reason
    assert "limit" in event.reason
    size = 101 if b"101" in header else 2 + 1001
    for offset in range(0, size, 7):
        decoder.feed(b"z" * min(7, size - offset))
        assert decoder.next_event() is None
        assert decoder.buffered == 0
    decoder.feed(GOOD)
    assert normalised(drain(decoder)) == [("frame", b'{"id":7}', b"")]


def test_frames_at_the_limits_are_accepted() -> None:
    decoder = FrameDecoder(max_message_bytes=2, max_attachment_bytes=3)
    assert normalised(decode(frame_bytes(b"{}", b"abc"), decoder=decoder)) == [("frame", b"{}", b"abc")]


# -- the zero-copy read path ------------------------------------------------------------------------------------


def test_a_large_attachment_read_in_one_piece_is_handed_on_as_that_object() -> None:
    attachment = bytes(range(256)) * 4096  # 1 MiB
    data = frame_bytes(b'{"id":1}', attachment)
    header = len(data) - len(attachment)
    decoder = FrameDecoder()
    decoder.feed(data[:header])
    assert decoder.next_event() is None
    assert decoder.direct_read_size() == len(attachment)
    piece = data[header:]
    decoder.received(piece)
    event = decoder.next_event()
    assert isinstance(event, Frame)
    assert event.message == b'{"id":1}'
    assert event.attachment is piece
    assert decoder.direct_read_size() is None


def test_direct_reads_in_pieces_of_any_size_give_the_attachment() -> None:
    attachment = bytes(range(256)) * 4096  # 1 MiB
    data = frame_bytes(b'{"id":1}', attachment)
    decoder = FrameDecoder()
    decoder.feed(data[:100])
    assert decoder.next_event() is None
    position = 100
    direct = 0
    event = None
    while event is None:
        size = decoder.direct_read_size()
        if size is None:
            decoder.feed(data[position : position + 10])
            position += 10
        else:
            count = min(size, 65536 + 7, len(data) - position)
            decoder.received(data[position : position + count])
            position += count
            direct += count
        event = decoder.next_event()
    assert direct > len(attachment) // 2
    assert isinstance(event, Frame)
    assert event.message == b'{"id":1}'
    assert event.attachment == attachment
    assert type(event.attachment) is bytes
    assert decoder.direct_read_size() is None


def test_direct_reads_fill_a_large_message_then_its_attachment() -> None:
    message = b'{"pad":"' + b"m" * 100_000 + b'"}'
    attachment = bytes(range(256)) * 512  # 128 KiB
    data = frame_bytes(message, attachment)
    header = len(data) - len(message) - len(attachment)
    decoder = FrameDecoder()
    decoder.feed(data[:header])
    assert decoder.next_event() is None
    position = header
    sizes = []
    event = None
    while event is None:
        size = decoder.direct_read_size()
        assert size is not None, "each part is large enough to be read directly"
        sizes.append(size)
        decoder.received(data[position : position + size])
        position += size
        event = decoder.next_event()
    assert sizes == [len(message), len(attachment)]
    assert isinstance(event, Frame)
    assert (event.message, event.attachment) == (message, attachment)


def test_a_direct_read_is_not_offered_for_small_bodies_or_with_buffered_bytes() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"Content-Length: 2\r\nAttachment-Length: 10\r\n\r\n")
    assert decoder.next_event() is None
    assert decoder.direct_read_size() is None
    decoder = FrameDecoder()
    decoder.feed(b"Content-Length: 2\r\nAttachment-Length: 100000\r\n\r\n{}")
    assert decoder.next_event() is None
    assert decoder.direct_read_size() == 100000
    decoder.feed(b"x")
    assert decoder.direct_read_size() is None


def test_a_direct_read_asks_for_at_most_4_mib_of_a_larger_attachment() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"Content-Length: 2\r\nAttachment-Length: %d\r\n\r\n{}" % (10 << 20))
    assert decoder.next_event() is None
    assert decoder.direct_read_size() == 4 << 20
    decoder.received(bytes(4 << 20))
    decoder.received(bytes(4 << 20))
    assert decoder.direct_read_size() == 2 << 20


def test_a_piece_longer_than_the_part_is_refused_and_changes_nothing() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"Content-Length: 2\r\nAttachment-Length: 100000\r\n\r\n{}")
    assert decoder.next_event() is None
    with pytest.raises(ValueError, match="longer than the part"):
        decoder.received(bytes(100001))
    decoder.received(bytes(100000))
    event = decoder.next_event()
    assert isinstance(event, Frame)
    assert event.attachment == bytes(100000)


# -- values -------------------------------------------------------------------------------------------------


def test_dumps_and_loads_round_trip() -> None:
    value = {"path": "/a", "size": 1, "list": [1, "x", None, True], "nested": {"é": 1.5}}
    assert loads(dumps(value)) == value


def test_loads_rejects_bad_json_with_value_error() -> None:
    with pytest.raises(ValueError, match=r"\w"):
        loads(b"{bad")


def test_format_time_writes_every_microsecond_digit() -> None:
    moment = datetime(2026, 11, 28, 7, 5, 59, 123456, timezone.utc)
    assert format_time(moment) == "2026-11-28T07:05:59.123456Z"
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2026-01-02T03:04:05.000000Z"


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2026-11-28T07:05:59Z", 0),
        ("2026-11-28T07:05:59.1Z", 100000),
        ("2026-11-28T07:05:59.123Z", 123000),
        ("2026-11-28T07:05:59.123456Z", 123456),
        ("2026-11-28T07:05:59.123456789Z", 123456),
        ("2026-11-28T07:05:59.000000001Z", 0),
    ],
)
def test_parse_time_takes_0_to_9_fraction_digits(text: str, micros: int) -> None:
    parsed = parse_time(text)
    assert parsed == datetime(2026, 11, 28, 7, 5, 59, micros, timezone.utc)
    assert parsed.tzinfo is timezone.utc


def test_time_round_trip_keeps_microseconds() -> None:
    moment = datetime(2026, 11, 28, 7, 5, 59, 654321, timezone.utc)
    assert parse_time(format_time(moment)) == moment
    assert format_time(parse_time("2026-11-28T07:05:59.987654321Z")) == "2026-11-28T07:05:59.987654Z"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T07:05:59",
        "2026-11-28T07:05:59+00:00",
        "2026-11-28 07:05:59Z",
        "2026-11-28T07:05:59.1234567890Z",
        "2026-11-28T07:05:59.Z",
        "",
        1700000000,
        None,
    ],
)
def test_parse_time_rejects_anything_else(text: object) -> None:
    with pytest.raises(errors.ProtocolError, match="bad time"):
        parse_time(text)


def test_fileinfo_round_trip() -> None:
    info = FileInfo("/a/b", 42, datetime(2026, 11, 28, 7, 5, 59, 1, timezone.utc), False)
    wire = fileinfo_to_wire(info)
    assert wire == {"path": "/a/b", "size": 42, "mod_time": "2026-11-28T07:05:59.000001Z", "is_dir": False}
    assert fileinfo_from_wire(loads(dumps(wire))) == info


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        {"path": "/a", "size": "1", "mod_time": "2026-11-28T07:05:59Z", "is_dir": False},
        {"path": "/a", "size": True, "mod_time": "2026-11-28T07:05:59Z", "is_dir": False},
        {"path": "/a", "size": 1, "mod_time": "2026-11-28T07:05:59Z", "is_dir": 0},
        {"path": "/a", "size": 1, "mod_time": "yesterday", "is_dir": False},
        {"size": 1, "mod_time": "2026-11-28T07:05:59Z", "is_dir": False},
    ],
)
def test_fileinfo_from_wire_rejects_malformed_objects(value: object) -> None:
    with pytest.raises(errors.ProtocolError):
        fileinfo_from_wire(value)


# -- errors -------------------------------------------------------------------------------------------------


def example(cls: type[StorageDriverError]) -> StorageDriverError:
    """An instance of ``cls`` with a distinct value in every field."""
    samples: dict[str, Any] = {
        "path": "/some/path",
        "reason": "a reason",
        "offset": -3,
        "method": "url_for",
        "parameter": "rootdirectory",
        "accepted": ["a", "rootdirectory"],
        "operation": "stream.write",
        "offered": ["2.0", "2.1"],
        "chosen": None,
        "name": "nope",
    }
    if cls is StorageDriverError:
        return StorageDriverError("backend failed: timeout", driver="d")
    parameters = [name for name in inspect.signature(cls.__init__).parameters if name not in ("self", "driver")]
    return cls(**{name: samples[name] for name in parameters}, driver="d")


@pytest.mark.parametrize("cls", list(ERROR_CODES), ids=lambda cls: cls.__name__)
def test_every_error_type_round_trips(cls: type[StorageDriverError]) -> None:
    error = example(cls)
    code, message, data = error_to_wire(error, "other")
    assert code == ERROR_CODES[cls]
    assert data["type"] == cls.__name__
    assert data["driver"] == "d"
    assert message == error.message
    rebuilt = error_from_wire(code, message, loads(dumps(data)), "fallback")
    assert type(rebuilt) is cls
    assert rebuilt.fields() == error.fields()
    assert rebuilt.driver == "d"
    assert rebuilt.message == error.message


def test_error_codes_are_distinct_and_stable() -> None:
    assert sorted(ERROR_CODES.values()) == list(range(1000, 1010))
    assert ERROR_CODES[errors.PathNotFoundError] == 1001
    assert ERROR_CODES[errors.ProtocolError] == 1009


def test_driver_name_filled_in_when_the_error_has_none() -> None:
    _, _, data = error_to_wire(errors.PathNotFoundError("/a"), "filesystem")
    assert data == {"type": "PathNotFoundError", "driver": "filesystem", "path": "/a"}


def test_unlisted_subclass_travels_as_its_nearest_listed_base() -> None:
    class CustomNotFound(errors.PathNotFoundError):
        pass

    error = CustomNotFound("/x")
    assert code_for(error) == 1001
    code, message, data = error_to_wire(error, "d")
    assert data == {"type": "PathNotFoundError", "driver": "d"}
    assert code == 1001
    assert type(error_from_wire(code, message, data, "d")) is StorageDriverError


@pytest.mark.parametrize(
    "data",
    [None, "text", [], {"type": "NoSuchError"}, {"type": "PathNotFoundError"}, {"type": 5}],
)
def test_unknown_or_malformed_error_data_becomes_storage_driver_error(data: object) -> None:
    rebuilt = error_from_wire(1234, "something odd", data, "d")
    assert type(rebuilt) is StorageDriverError
    assert "something odd" in rebuilt.message
    assert rebuilt.driver == "d"


def test_error_from_wire_ignores_unknown_fields() -> None:
    data = {"type": "PathNotFoundError", "driver": "d", "path": "/a", "future_field": 1}
    rebuilt = error_from_wire(1001, "path not found: /a", data, "d")
    assert isinstance(rebuilt, errors.PathNotFoundError)
    assert rebuilt.path == "/a"


# -- versions and limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["1.0"], "1.0"),
        (["1.1"], "1.1"),
        (["1.2"], "1.2"),
        (["1.3"], "1.2"),
        (["0.9", "1.2", "2.0"], "1.2"),
        (["2.0"], None),
        (["0.1"], None),
        ([], None),
        (["x", 1, None, "1"], None),
        ("1.0", None),
        (None, None),
    ],
)
def test_choose_version(offered: object, chosen: str | None) -> None:
    assert choose_version(offered) == chosen


def test_choose_version_caps_the_minor_at_the_drivers() -> None:
    assert choose_version(["1.1", "1.5"], supported="1.3") == "1.3"
    assert choose_version(["1.1"], supported="1.3") == "1.1"
    assert choose_version(["2.4", "1.9"], supported="2.2") == "2.2"


@pytest.mark.parametrize(
    ("chosen", "offered", "accepted"),
    [
        ("1.0", ["1.0"], True),
        ("1.0", ["1.2"], True),
        ("1.3", ["1.2"], False),
        ("2.0", ["1.0"], False),
        ("1.0", ["2.0", "1.0"], True),
        (None, ["1.0"], False),
        ("1", ["1.0"], False),
        ("1.x", ["1.0"], False),
    ],
)
def test_accepts_chosen(chosen: object, offered: list[str], accepted: bool) -> None:
    assert accepts_chosen(chosen, offered) is accepted


@pytest.mark.parametrize(("text", "parsed"), [("1.0", (1, 0)), ("10.25", (10, 25)), ("1", None), ("a.b", None)])
def test_parse_version(text: str, parsed: tuple[int, int] | None) -> None:
    assert parse_version(text) == parsed


def test_limits_from_wire_takes_defaults_for_absent_or_bad_members() -> None:
    limits = Limits.from_wire({"max_chunk_bytes": 1024, "stream_window": 0, "max_streams": True, "unknown": 5})
    assert limits.max_chunk_bytes == 1024
    assert limits.stream_window == Limits().stream_window
    assert limits.max_streams == Limits().max_streams
    assert Limits.from_wire(None) == Limits()
    assert Limits.from_wire(limits.to_wire()) == limits
