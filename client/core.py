"""The sans-IO client session: bytes in, answers out; no threads, no sockets, no clocks.

:class:`ClientCore` is the part of a proxy that knows the protocol and nothing of I/O, in the way h11 is the part of
an HTTP client that knows HTTP. It numbers requests, builds their frames (the one place outgoing params are built and
checked against the driver's limits), keeps the table of pending calls, decodes incoming bytes into answers matched
to their calls, and turns error responses back into exceptions. The threaded edge (:mod:`.connection`) and the
asyncio edge (:mod:`.aio_connection`) each drive one; the method-level logic above them is in :mod:`.calls`.

A core is not thread-safe: an edge that calls it from several threads holds its own lock around it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar, Union

import orjson
from jsonrpcclient import Error, Ok, notification, parse
from jsonrpcclient.requests import request_pure

from registry_storage.errors import ProtocolError, StorageDriverError
from registry_storage.observability.tracing import with_trace_context
from registry_storage.wire.errors import error_from_wire
from registry_storage.wire.frames import Frame, FrameDecoder, FrameError, encode_frame
from registry_storage.wire.handshake import Limits

Response = Union[Ok, Error]
Attachment = Union[bytes, bytearray, memoryview]
Pieces = list[Union[bytes, memoryview]]
Call = TypeVar("Call")

_NO_IDS: Iterator[Any] = iter(())  # ids are always passed explicitly; jsonrpcclient's generators are not thread-safe
_logger = logging.getLogger("registry_storage.client")


def request_message(method: str, params: Mapping[str, Any], request_id: int) -> dict[str, Any]:
    """The request object; jsonrpcclient leaves out empty params, which the protocol always sends as an object.

    The caller's trace context rides along as the optional ``trace_context`` member (protocol.md section 4).
    """
    params = with_trace_context(params)
    if not params:
        return {"jsonrpc": "2.0", "method": method, "params": {}, "id": request_id}
    message: dict[str, Any] = request_pure(_NO_IDS, method, dict(params), request_id)
    return message


class ClientCore(Generic[Call]):
    """One channel's protocol state: ids, pending calls (any object an edge uses to wake its caller), limits.

    ``driver`` names the driver in errors; ``limits`` are this side's receive limits; ``peer_limits`` the driver's,
    the defaults until the handshake tells them, and ``version`` the protocol version it chose (1.0 until then).
    ``failure`` is set by the edge when the channel ends.
    """

    def __init__(self, driver: str, limits: Limits | None = None) -> None:
        self.driver = driver
        self.limits = limits or Limits()
        self.peer_limits = Limits()
        self.version: tuple[int, int] = (1, 0)
        self.failure: StorageDriverError | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, Call] = {}
        self._opens: set[int] = set()
        self._orphans: list[int] = []
        self._decoder = FrameDecoder(self.limits.max_message_bytes, self.limits.max_attachment_bytes)

    # -- outgoing ------------------------------------------------------------------------------------------------

    def request(
        self, method: str, params: Mapping[str, Any], attachment: Attachment = b""
    ) -> tuple[int, bytes, Pieces]:
        """``(id, message, frame pieces)`` of a new request; the one place outgoing requests are built.

        Raises ProtocolError when the message or the attachment is over the driver's limits.
        """
        request_id = next(self._ids)
        message = orjson.dumps(request_message(method, params, request_id))
        limits = self.peer_limits
        if len(message) > limits.max_message_bytes:
            raise ProtocolError(
                f"{method} request of {len(message)} bytes is over the driver's max_message_bytes", driver=self.driver
            )
        if len(attachment) > limits.max_attachment_bytes:
            raise ProtocolError(
                f"{method} attachment of {len(attachment)} bytes is over the driver's max_attachment_bytes",
                driver=self.driver,
            )
        if method.endswith(".open"):
            self._opens.add(request_id)
        return request_id, message, encode_frame(message, attachment)

    def speaks(self, version: tuple[int, int]) -> bool:
        """True when the session's protocol version is ``version`` or a later minor of it."""
        return self.version[0] == version[0] and self.version[1] >= version[1]

    @staticmethod
    def notification(method: str, params: Mapping[str, Any]) -> bytes:
        """The frame of a notification (no answer), as one bytes object."""
        return b"".join(encode_frame(orjson.dumps(notification(method, dict(params)))))

    @staticmethod
    def cancels_with_dollar_cancel(method: str) -> bool:
        """Whether a call of ``method`` given up is cancelled with ``$/cancel``: not a request naming a stream, which
        its program cancels with ``stream.cancel`` and awaits, so the driver has settled when the caller resumes
        (a ``$/cancel`` would end the stream at once, without waiting for the driver's write)."""
        return not method.startswith("stream.")

    def orphan_cancel_frames(self) -> list[bytes]:
        """``stream.cancel`` requests for the streams opened by ``*.open`` calls given up before their answer came
        (a cancelled task, a deadline): the driver opened them all the same, and would keep them until the end of
        the session. Their answers are dropped like any answer no call waits for. Each frame is under PIPE_BUF."""
        frames = []
        for stream in self._orphans:
            _, _, pieces = self.request("stream.cancel", {"stream": stream})
            frames.append(b"".join(pieces))
        self._orphans.clear()
        return frames

    def cancel_frame(self, request_id: int) -> bytes:
        """The ``$/cancel`` notification of ``request_id``: small enough to be written atomically to a pipe."""
        return self.notification("$/cancel", {"id": request_id})

    # -- pending calls -------------------------------------------------------------------------------------------

    def register(self, request_id: int, call: Call) -> None:
        """Remember ``call`` as waiting for the answer to ``request_id``."""
        self._pending[request_id] = call

    def forget(self, request_id: int) -> Call | None:
        """Stop waiting for ``request_id``; returns its call when it was still pending (so no answer will come)."""
        return self._pending.pop(request_id, None)

    def take_all(self) -> list[Call]:
        """Every pending call, removing them (when the channel ends)."""
        calls, self._pending = list(self._pending.values()), {}
        return calls

    @property
    def pending_count(self) -> int:
        """Calls waiting for an answer."""
        return len(self._pending)

    # -- incoming ------------------------------------------------------------------------------------------------

    def direct_read_size(self) -> int | None:
        """At most how many bytes to read with ``os.read`` and pass to :meth:`received` (see
        FrameDecoder.direct_read_size), or None: read into a buffer and :meth:`receive` it."""
        return self._decoder.direct_read_size()

    def received(self, piece: bytes) -> None:
        """Add ``piece``, read after :meth:`direct_read_size` offered at least its length."""
        self._decoder.received(piece)

    def receive(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes received from the driver's stdout."""
        self._decoder.feed(data)

    def frames(self) -> Iterator[Frame | FrameError]:
        """The frames decoded so far (match each with :meth:`match`)."""
        while True:
            event = self._decoder.next_event()
            if event is None:
                return
            yield event

    def answers(self) -> Iterator[tuple[Call, Response, bytes | bytearray]]:
        """The answers decoded so far, each with the call it belongs to; answers no call waits for are dropped."""
        for event in self.frames():
            answer = self.match(event)
            if answer is not None:
                yield answer

    def match(self, event: Frame | FrameError) -> tuple[Call, Response, bytes | bytearray] | None:
        """The pending call ``event`` answers (removed from the table) with the response, or None to drop it."""
        if isinstance(event, FrameError):
            _logger.warning("driver %s sent a malformed frame: %s", self.driver, event.reason)
            return None
        try:
            response = parse(orjson.loads(event.message))
        except (ValueError, KeyError, TypeError) as error:
            _logger.warning("driver %s sent a message that is not a JSON-RPC response: %s", self.driver, error)
            return None
        if not isinstance(response, (Ok, Error)):
            _logger.warning("driver %s sent a batch, which this protocol does not use", self.driver)
            return None
        call = self._pending.pop(response.id, None) if isinstance(response.id, int) else None
        opened = isinstance(response.id, int) and response.id in self._opens
        if opened:
            self._opens.discard(response.id)
        if call is None and opened and isinstance(response, Ok) and isinstance(response.result, dict):
            stream = response.result.get("stream")
            ended = response.result.get("eof") is True  # a read stream answered whole with its open is closed
            if isinstance(stream, int) and not isinstance(stream, bool) and not ended:
                self._orphans.append(stream)
        if call is None:
            if isinstance(response, Error) and response.id is None:
                _logger.warning("driver %s rejected a frame: %s %s", self.driver, response.message, response.data)
            return None  # the answer to a call that passed its deadline or was abandoned
        return call, response, event.attachment

    # -- errors --------------------------------------------------------------------------------------------------

    def error_from(self, response: Error) -> StorageDriverError:
        """The exception an error response describes (see :func:`~registry_storage.wire.error_from_wire`)."""
        return error_from_wire(response.code, response.message, response.data, self.driver)
