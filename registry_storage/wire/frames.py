"""Frames of the registry-storage protocol, sans I/O (protocol.md section 3).

A frame is a header block, a JSON-RPC message of ``Content-Length`` bytes and an attachment of
``Attachment-Length`` bytes. :func:`encode_frame` turns a message into bytes; :class:`FrameDecoder` turns bytes into
events: :class:`Frame` for a good frame and :class:`FrameError` for a malformed or oversized one, after which it
resynchronises as protocol.md prescribes. Nothing here reads or writes a file descriptor or starts a thread.

For speed, an attachment (or a large message) can be read straight into the bytes objects it is made of: when
:meth:`FrameDecoder.direct_read_size` returns a size, the caller reads at most that many bytes with ``os.read`` and
hands the bytes object it got to :meth:`FrameDecoder.received`. A part that arrives in one read is handed on as
that very object; one that arrives in several is joined once. Nothing is zero-filled first, and a consumer that
needs ``bytes`` (a driver keeping a chunk, ``read_stream.read``) needs no copy of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEADER_BYTES = 4096
DEFAULT_MAX_MESSAGE_BYTES = 16 << 20
DEFAULT_MAX_ATTACHMENT_BYTES = 256 << 20
_TERMINATOR = b"\r\n\r\n"
_RESYNC = re.compile(rb"content-length:", re.IGNORECASE)
_CANONICAL = re.compile(rb"Content-Length: ([0-9]{1,15})\r\n(?:Attachment-Length: ([0-9]{1,15})\r\n)?\r\n")
"""The header block exactly as :func:`encode_frame` writes it, parsed by one match instead of line by line."""
_DIRECT_READ_THRESHOLD = 64 << 10
_DIRECT_READ_MAX = 4 << 20


@dataclass(frozen=True)
class Frame:
    """One decoded frame: the JSON-RPC message bytes and the attachment (``b""`` when none)."""

    message: bytes
    attachment: bytes = b""


@dataclass(frozen=True)
class FrameError:
    """A frame that could not be decoded; the receiver answers -32600 with ``reason`` and keeps serving."""

    reason: str


def encode_frame(message: bytes, attachment: bytes | bytearray | memoryview = b"") -> list[bytes | memoryview]:
    """The pieces of one frame, in order, ready for ``os.writev`` or consecutive writes (attachment not copied)."""
    if attachment:
        header = b"Content-Length: %d\r\nAttachment-Length: %d\r\n\r\n" % (len(message), len(attachment))
        return [header, message, memoryview(attachment)]
    return [b"Content-Length: %d\r\n\r\n" % len(message), message]


def _parse_header(block: bytes) -> tuple[int, int] | str:
    """``(content_length, attachment_length)`` from a header block, or the reason it is malformed."""
    lengths: dict[str, int] = {}
    for line in block.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon:
            return f"malformed header line {line[:60]!r}"
        key = name.strip().lower()
        if key in (b"content-length", b"attachment-length"):
            if key.decode() in lengths:
                return f"more than one {key.decode()} header"
            text = value.strip()
            if not text.isdigit() or len(text) > 15:
                return f"bad {key.decode()} {text[:20]!r}"
            lengths[key.decode()] = int(text)
    if "content-length" not in lengths:
        return "header block without Content-Length"
    return lengths["content-length"], lengths.get("attachment-length", 0)


class FrameDecoder:
    """Turns the bytes of one direction of the channel into :class:`Frame` and :class:`FrameError` events.

    Feed bytes with :meth:`feed` (or :meth:`direct_read_size` / :meth:`received`), then call :meth:`next_event` until
    it returns None (more bytes needed). A frame over the limits is reported and skipped without being stored.
    """

    def __init__(
        self,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.max_attachment_bytes = max_attachment_bytes
        self._buffer = bytearray()
        self._resyncing = False
        self._skip = 0
        self._body: _Body | None = None
        """The frame being assembled once its header is parsed."""

    # -- input ---------------------------------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes."""
        if data:
            self._buffer += data

    def direct_read_size(self) -> int | None:
        """How many bytes to read next straight into the message or attachment being assembled, or None: read into
        a buffer of your own and :meth:`feed` it.

        Offered only while nothing fed is unconsumed and at least 64 KiB of the current part are still to come; at most
        4 MiB (a pipe holds 1 MiB, so a larger read would only allocate memory it never fills).
        """
        if self._body is None or self._buffer or self._skip:
            return None
        missing = self._body.missing
        return min(missing, _DIRECT_READ_MAX) if missing >= _DIRECT_READ_THRESHOLD else None

    def received(self, piece: bytes) -> None:
        """Add ``piece``, read after :meth:`direct_read_size` offered at least its length, to the current part.

        Raises ValueError for a piece longer than the part still missing (nothing is added).
        """
        body = self._body
        if body is None or len(piece) > body.missing:
            raise ValueError("a piece longer than the part being read")
        body.add(piece)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed (for tests and diagnostics)."""
        return len(self._buffer)

    # -- output --------------------------------------------------------------------------------------------------

    def next_event(self) -> Frame | FrameError | None:
        """The next decoded event, or None when more bytes are needed."""
        while True:
            if self._skip:
                dropped = min(self._skip, len(self._buffer))
                del self._buffer[:dropped]
                self._skip -= dropped
                if self._skip:
                    return None
            if self._resyncing:
                match = _RESYNC.search(self._buffer)
                if match is None:
                    keep = len(b"content-length:") - 1  # a partial match at the end
                    del self._buffer[: max(0, len(self._buffer) - keep)]
                    return None
                del self._buffer[: match.start()]
                self._resyncing = False
            if self._body is None:
                frame = self._take_whole()
                if frame is not None:
                    return frame
                event = self._take_header()
                if event is not None or self._body is None:
                    return event
            frame = self._take_body()
            if frame is None:
                return None
            return frame

    def _take_whole(self) -> Frame | None:
        """The next frame when it is all buffered, within the limits and with a canonical header; else None (the
        general path then decodes it, with the same result)."""
        buffer = self._buffer
        match = _CANONICAL.match(buffer)
        if match is None:
            return None
        content_length = int(match[1])
        attachment_length = int(match[2]) if match[2] else 0
        start = match.end()
        end = start + content_length + attachment_length
        if (
            len(buffer) < end
            or content_length > self.max_message_bytes
            or attachment_length > self.max_attachment_bytes
        ):
            return None
        message = bytes(buffer[start : start + content_length])
        attachment = b""
        if attachment_length:
            with memoryview(buffer) as view:  # one copy of the attachment, not a slice and then its copy
                attachment = bytes(view[start + content_length : end])
        del buffer[:end]
        return Frame(message, attachment)

    def _take_header(self) -> FrameError | None:
        window = MAX_HEADER_BYTES + len(_TERMINATOR)  # a block of MAX_HEADER_BYTES and its terminator
        end = self._buffer.find(_TERMINATOR, 0, window)
        if end < 0:
            # the verdict must not depend on how the bytes were split: refuse only once the whole window is here
            if len(self._buffer) >= window:
                self._resyncing = True
                del self._buffer[:1]
                return FrameError(f"header block longer than {MAX_HEADER_BYTES} bytes")
            return None
        parsed = _parse_header(bytes(self._buffer[:end]))
        del self._buffer[: end + len(_TERMINATOR)]
        if isinstance(parsed, str):
            self._resyncing = True
            return FrameError(parsed)
        content_length, attachment_length = parsed
        if content_length > self.max_message_bytes or attachment_length > self.max_attachment_bytes:
            self._skip = content_length + attachment_length
            which = "message" if content_length > self.max_message_bytes else "attachment"
            limit = self.max_message_bytes if which == "message" else self.max_attachment_bytes
            size = content_length if which == "message" else attachment_length
            return FrameError(f"frame too large: {which} of {size} bytes exceeds the limit of {limit} bytes")
        self._body = _Body(content_length, attachment_length)
        return None

    def _take_body(self) -> Frame | None:
        body = self._body
        assert body is not None
        buffer = self._buffer
        while buffer and body.missing:
            taken = min(body.missing, len(buffer))
            with memoryview(buffer) as view:  # one copy, not a slice and then its copy
                body.add(bytes(view[:taken]))
            del buffer[:taken]
        if body.missing:
            return None
        self._body = None
        return body.frame()


class _Body:
    """The message and attachment of a frame whose header is parsed, as the pieces received so far.

    No piece straddles the two parts, so a part received in one piece is handed on as that object.
    """

    __slots__ = ("missing", "part", "pieces", "sizes")

    def __init__(self, message_length: int, attachment_length: int) -> None:
        self.sizes = (message_length, attachment_length)
        self.pieces: tuple[list[bytes], list[bytes]] = ([], [])
        self.part = 0 if message_length else 1
        """The part being received: 0 the message, 1 the attachment."""
        self.missing = self.sizes[self.part]
        """Bytes of the current part still to come; 0 once the frame is complete."""

    def add(self, piece: bytes) -> None:
        """Append ``piece`` (at most :attr:`missing` bytes) to the current part."""
        self.pieces[self.part].append(piece)
        self.missing -= len(piece)
        if not self.missing and not self.part:
            self.part = 1
            self.missing = self.sizes[1]

    def frame(self) -> Frame:
        message, attachment = (pieces[0] if len(pieces) == 1 else b"".join(pieces) for pieces in self.pieces)
        return Frame(message, attachment)
