"""One JSON-RPC channel to a driver: requests out under a lock, answers in on one reader thread, matched by id.

Any number of threads call through one :class:`Connection` at once. A caller builds its request (jsonrpcclient,
with an id from a thread-safe counter), writes the frame under the write lock and waits on its own
:class:`PendingCall`; the reader thread decodes frames with :class:`~registry_storage.wire.FrameDecoder` (reading
large attachments straight into their final buffer) and hands each answer to the call with that id. Nothing starts
a thread per call.

Every call has a deadline: when it passes, the caller sends ``$/cancel``, forgets the call and raises
DeadlineExceededError; a late answer is dropped. When the driver's stdout ends, every pending and later call fails
with the error the ``on_exit`` callback builds (DriverExitedError with the exit status and the stderr tail).
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, Union

import orjson
from jsonrpcclient import Error, Ok, notification, parse
from jsonrpcclient.requests import request_pure

from registry_storage.errors import DeadlineExceededError, ProtocolError, StorageDriverError
from registry_storage.observability.tracing import with_trace_context
from registry_storage.wire.errors import error_from_wire
from registry_storage.wire.frames import Frame, FrameDecoder, FrameError, encode_frame
from registry_storage.wire.handshake import Limits

Response = Union[Ok, Error]
Attachment = Union[bytes, bytearray, memoryview]

READ_BYTES = 64 << 10
"""Bytes the reader asks for when it is not reading an attachment straight into its buffer."""

_NO_IDS: Iterator[Any] = iter(())  # ids are always passed explicitly; jsonrpcclient's generators are not thread-safe
_logger = logging.getLogger("registry_storage.client")


class PendingCall:
    """A request sent and not yet answered; :meth:`Connection.wait` waits for it (once)."""

    __slots__ = ("_answered", "attachment", "deadline", "error", "id", "method", "response", "timeout")

    def __init__(self, request_id: int, method: str, timeout: float) -> None:
        self.id = request_id
        self.method = method
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.response: Response | None = None
        self.attachment: bytes | bytearray = b""
        self.error: StorageDriverError | None = None
        self._answered = threading.Lock()
        self._answered.acquire()

    def _resolve(self, response: Response, attachment: bytes | bytearray) -> None:
        """Record the answer; the caller wakes at :meth:`_wake`."""
        self.response = response
        self.attachment = attachment

    def _wake(self) -> None:
        self._answered.release()

    def _fail(self, error: StorageDriverError) -> None:
        self.error = error
        self._wake()


def _request(method: str, params: Mapping[str, Any], request_id: int) -> dict[str, Any]:
    """The request object; jsonrpcclient leaves out empty params, which the protocol always sends as an object.

    The caller's trace context rides along as the optional ``trace_context`` member (protocol.md section 4).
    """
    params = with_trace_context(params)
    if not params:
        return {"jsonrpc": "2.0", "method": method, "params": {}, "id": request_id}
    message: dict[str, Any] = request_pure(_NO_IDS, method, dict(params), request_id)
    return message


def _fresh(error: StorageDriverError) -> StorageDriverError:
    """A new instance of ``error`` (same type and fields), so threads never share one traceback."""
    return copy.copy(error)


class Connection:
    """The client end of one driver's channel.

    ``reader`` is the driver's stdout and ``writer`` its stdin (unbuffered binary files; the connection closes them).
    ``driver`` names the driver in errors. ``on_exit`` builds the error that explains the end of stdout.
    ``timeout`` is the default deadline of a call in seconds. ``limits`` are this side's receive limits.
    """

    def __init__(
        self,
        reader: IO[bytes],
        writer: IO[bytes],
        driver: str,
        *,
        on_exit: Callable[[], StorageDriverError],
        timeout: float,
        limits: Limits | None = None,
    ) -> None:
        self.driver = driver
        self.timeout = timeout
        self.limits = limits or Limits()
        self.peer_limits = Limits()
        """The driver's receive limits; the defaults until the handshake tells them."""
        self._reader = reader
        self._writer = writer
        self._writer_fd = writer.fileno()
        self._on_exit = on_exit
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer_closed = False
        self._pending: dict[int, PendingCall] = {}
        self._pending_lock = threading.Lock()
        self._cancels: list[int] = []
        self._failure: StorageDriverError | None = None
        self._finished = threading.Event()
        self._slots: threading.Semaphore | None = None
        self._thread = threading.Thread(target=self._read_loop, name=f"registry-storage-{driver}-reader", daemon=True)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reader thread."""
        self._thread.start()

    def limit_in_flight(self, count: int) -> None:
        """Keep at most ``count`` requests unanswered (for a driver that does not serve requests concurrently)."""
        self._slots = threading.Semaphore(count)

    @property
    def failure(self) -> StorageDriverError | None:
        """Why the channel ended (DriverExitedError), or None while the driver's stdout is open."""
        return self._failure

    def close_writer(self, timeout: float) -> bool:
        """Close the driver's stdin, waiting up to ``timeout`` seconds for a write in progress; True when closed."""
        if not self._write_lock.acquire(timeout=timeout):
            return False
        try:
            if not self._writer_closed:
                self._writer_closed = True
                self._writer.close()
        finally:
            self._write_lock.release()
        return True

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the reader thread to see the end of stdout; True when it has."""
        return self._finished.wait(timeout)

    # -- calls ---------------------------------------------------------------------------------------------------

    def submit(
        self,
        method: str,
        params: Mapping[str, Any],
        attachment: Attachment = b"",
        timeout: float | None = None,
    ) -> PendingCall:
        """Send a request and return its :class:`PendingCall` without waiting for the answer.

        Raises the channel's failure (DriverExitedError) when the driver is gone, DeadlineExceededError when a slot
        for a non-concurrent driver does not free up in time, and ProtocolError when the message is over the
        driver's limits.
        """
        with self._ids_lock:
            request_id = next(self._ids)
        message = orjson.dumps(_request(method, params, request_id))
        self._check_limits(method, message, attachment)
        pending = PendingCall(request_id, method, self.timeout if timeout is None else timeout)
        if self._slots is not None and not self._slots.acquire(timeout=pending.timeout):
            raise DeadlineExceededError(method, pending.timeout, driver=self.driver)
        with self._pending_lock:
            failure = self._failure
            if failure is None:
                self._pending[request_id] = pending
        if failure is not None:
            self._release_slot()
            raise _fresh(failure)
        try:
            self._write(encode_frame(message, attachment))
        except BaseException:
            self._forget(pending)
            raise
        return pending

    def wait(self, pending: PendingCall) -> tuple[Response, bytes | bytearray]:
        """Wait for the answer to ``pending`` until its deadline: the response (Ok or Error) and its attachment.

        Raises DeadlineExceededError when the deadline passes (the request is cancelled with ``$/cancel`` and its
        answer ignored) and the channel's failure when the driver exits first.
        """
        if not pending._answered.acquire(timeout=max(0.0, pending.deadline - time.monotonic())):
            if self._forget(pending):
                self._queue_cancel(pending.id)
                raise DeadlineExceededError(pending.method, pending.timeout, driver=self.driver)
            pending._answered.acquire()  # answered while the deadline passed
        if pending.error is not None:
            raise pending.error
        assert pending.response is not None
        return pending.response, pending.attachment

    def result(self, pending: PendingCall) -> tuple[Any, bytes | bytearray]:
        """Wait for ``pending`` like :meth:`wait`; return its result and attachment or raise the driver's error."""
        response, attachment = self.wait(pending)
        if isinstance(response, Error):
            raise self.error_from(response)
        return response.result, attachment

    def call(
        self,
        method: str,
        params: Mapping[str, Any],
        attachment: Attachment = b"",
        timeout: float | None = None,
    ) -> tuple[Any, bytes | bytearray]:
        """Send a request and wait for it: its result and attachment, or the driver's error rebuilt (same type, same
        fields). Raises DeadlineExceededError and DriverExitedError as :meth:`wait` does."""
        return self.result(self.submit(method, params, attachment, timeout))

    def notify(self, method: str, params: Mapping[str, Any]) -> None:
        """Send a notification (no answer); raises the channel's failure when the driver is gone."""
        self._write(encode_frame(orjson.dumps(notification(method, dict(params)))))

    def abandon(self, pending: PendingCall) -> None:
        """Stop caring about ``pending``: its answer, if it ever comes, is dropped."""
        self._forget(pending)

    def error_from(self, response: Error) -> StorageDriverError:
        """The exception an error response describes (see :func:`~registry_storage.wire.error_from_wire`)."""
        return error_from_wire(response.code, response.message, response.data, self.driver)

    # -- writing -------------------------------------------------------------------------------------------------

    def _check_limits(self, method: str, message: bytes, attachment: Attachment) -> None:
        limits = self.peer_limits
        if len(message) > limits.max_message_bytes:
            size = len(message)
            raise ProtocolError(
                f"{method} request of {size} bytes is over the driver's max_message_bytes", driver=self.driver
            )
        if len(attachment) > limits.max_attachment_bytes:
            size = len(attachment)
            raise ProtocolError(
                f"{method} attachment of {size} bytes is over the driver's max_attachment_bytes", driver=self.driver
            )

    def _write(self, pieces: list[bytes | memoryview]) -> None:
        with self._write_lock:
            if self._cancels:
                pieces = [self._take_cancels(), *pieces]
            if self._writer_closed:
                failure = self._failure
                raise _fresh(failure) if failure else ProtocolError("the driver's stdin is closed", driver=self.driver)
            try:
                self._write_all(pieces)
            except OSError as error:
                raise self._gone(f"cannot write to the driver: {error.strerror or error}") from error
        if self._cancels:
            self._flush_cancels()

    def _write_all(self, pieces: list[bytes | memoryview]) -> None:
        remaining = sum(len(piece) for piece in pieces)
        while True:
            written = os.writev(self._writer_fd, pieces)
            remaining -= written
            if not remaining:
                return
            while written >= len(pieces[0]):  # a signal cut the write short: drop what went out
                written -= len(pieces[0])
                pieces = pieces[1:]
            pieces = [memoryview(pieces[0])[written:], *pieces[1:]]

    def _gone(self, reason: str) -> StorageDriverError:
        """The error to raise when the channel cannot be written: the failure once the reader has explained it."""
        self._finished.wait(2.0)
        failure = self._failure
        return _fresh(failure) if failure is not None else ProtocolError(reason, driver=self.driver)

    def _queue_cancel(self, request_id: int) -> None:
        with self._pending_lock:
            self._cancels.append(request_id)
        self._flush_cancels()

    def _take_cancels(self) -> bytes:
        with self._pending_lock:
            ids, self._cancels = self._cancels, []
        frames = (encode_frame(orjson.dumps(notification("$/cancel", {"id": request_id}))) for request_id in ids)
        return b"".join(piece for frame in frames for piece in frame)

    def _flush_cancels(self) -> None:
        """Send queued ``$/cancel`` notifications now if no write is in progress (else the next writer sends them)."""
        if not self._write_lock.acquire(blocking=False):
            return
        try:
            if self._cancels and not self._writer_closed:
                self._write_all([self._take_cancels()])
        except OSError:
            pass  # the reader reports the driver's exit
        finally:
            self._write_lock.release()

    # -- reading -------------------------------------------------------------------------------------------------

    def _release_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def _forget(self, pending: PendingCall) -> bool:
        """Remove ``pending`` from the table; True when it was still there (so no answer will resolve it)."""
        with self._pending_lock:
            removed = self._pending.pop(pending.id, None) is not None
        if removed:
            self._release_slot()
        return removed

    def _read_loop(self) -> None:
        decoder = FrameDecoder(self.limits.max_message_bytes, self.limits.max_attachment_bytes)
        buffer = memoryview(bytearray(READ_BYTES))
        fd = self._reader.fileno()
        answered: list[PendingCall] = []
        try:
            while True:
                target = decoder.read_target()
                if target is not None:
                    count = os.readv(fd, [target])
                    target.release()
                    if not count:
                        break
                    decoder.filled(count)
                else:
                    count = os.readv(fd, [buffer])
                    if not count:
                        break
                    decoder.feed(buffer[:count])
                event = decoder.next_event()
                while event is not None:
                    pending = self._deliver(event)
                    if pending is not None:
                        answered.append(pending)
                    event = decoder.next_event()
                # wake the callers once everything read is decoded: they do not wait for this thread's GIL
                for pending in answered:
                    pending._wake()
                answered.clear()
        except OSError as error:
            _logger.debug("reading from driver %s failed: %s", self.driver, error)
        finally:
            for pending in answered:
                pending._wake()
            self._conclude()

    def _deliver(self, event: Frame | FrameError) -> PendingCall | None:
        """Hand an answer to its call; returns the call to wake, or None for a frame no call waits for."""
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
        with self._pending_lock:
            pending = self._pending.pop(response.id, None) if isinstance(response.id, int) else None
        if pending is None:
            if isinstance(response, Error) and response.id is None:
                _logger.warning("driver %s rejected a frame: %s %s", self.driver, response.message, response.data)
            return None  # the answer to a call that passed its deadline or was abandoned
        self._release_slot()
        pending._resolve(response, event.attachment)
        return pending

    def _conclude(self) -> None:
        try:
            failure = self._on_exit()
        except Exception as error:  # the explanation failed; still fail every call
            failure = StorageDriverError(f"the driver's channel ended ({error})", driver=self.driver)
        with self._pending_lock:
            self._failure = failure
            pending, self._pending = list(self._pending.values()), {}
        for call in pending:
            self._release_slot()
            call._fail(_fresh(failure))
        self._reader.close()
        self._finished.set()
