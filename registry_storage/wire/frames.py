"""Frames of the registry-storage protocol, sans I/O (protocol.md section 3).

A frame is a header block, a JSON-RPC message of ``Content-Length`` bytes and an attachment of
``Attachment-Length`` bytes. :func:`encode_frame` turns a message into bytes; :class:`FrameDecoder` turns bytes into
events: :class:`Frame` for a good frame and :class:`FrameError` for a malformed or oversized one, after which it
resynchronises as protocol.md prescribes. Nothing here reads or writes a file descriptor or starts a thread.

For speed, an attachment (or a large message) can be read straight into its final buffer: when
:meth:`FrameDecoder.read_target` returns a memoryview, the caller ``readinto``s it and reports the count with
:meth:`FrameDecoder.filled`, and no byte is copied twice.
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


@dataclass(frozen=True)
class Frame:
    """One decoded frame: the JSON-RPC message bytes and the attachment (``b""`` when none)."""

    message: bytes
    attachment: bytes | bytearray = b""


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

    Feed bytes with :meth:`feed` (or :meth:`read_target` / :meth:`filled`), then call :meth:`next_event` until it
    returns None (more bytes needed). A frame over the limits is reported and skipped without being stored.
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
        # the frame being assembled once its header is parsed: its message and attachment, each in its own buffer
        # (so the attachment is handed on as it is, never moved), and how many of their bytes are in
        self._parts: tuple[bytearray, bytearray] | None = None
        self._filled = 0

    # -- input ---------------------------------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes."""
        if data:
            self._buffer += data

    def read_target(self) -> memoryview | None:
        """A buffer to read the rest of the current message or attachment straight into, or None to use :meth:`feed`.

        Offered only while the buffer holds no unconsumed bytes and a large part is being assembled. Release the view
        (``view.release()``) before the next :meth:`next_event`.
        """
        if self._parts is None or self._buffer or self._skip:
            return None
        message, attachment = self._parts
        if self._filled < len(message):
            part, start = message, self._filled
        else:
            part, start = attachment, self._filled - len(message)
        if len(part) - start < _DIRECT_READ_THRESHOLD:
            return None
        return memoryview(part)[start:]

    def filled(self, count: int) -> None:
        """Record that ``count`` bytes were read into the last :meth:`read_target`."""
        self._filled += count

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
            if self._parts is None:
                frame = self._take_whole()
                if frame is not None:
                    return frame
                event = self._take_header()
                if event is not None or self._parts is None:
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
        self._parts = (bytearray(content_length), bytearray(attachment_length))
        self._filled = 0
        return None

    def _take_body(self) -> Frame | None:
        assert self._parts is not None
        message, attachment = self._parts
        for part, start in ((message, 0), (attachment, len(message))):
            wanted = start + len(part) - self._filled
            if wanted > 0 and self._buffer:
                taken = min(wanted, len(self._buffer))
                at = self._filled - start
                part[at : at + taken] = self._buffer[:taken]
                del self._buffer[:taken]
                self._filled += taken
        if self._filled < len(message) + len(attachment):
            return None
        self._parts = None
        self._filled = 0
        return Frame(bytes(message), attachment if attachment else b"")
