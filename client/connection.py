"""One JSON-RPC channel to a driver: requests out under a lock, answers in on one reader thread, matched by id.

Any number of threads call through one :class:`Connection` at once. A caller builds its request (jsonrpcclient,
with an id from a thread-safe counter), writes the frame under the write lock and waits on its own
:class:`PendingCall`; the reader thread decodes frames with :class:`~registry_storage.wire.FrameDecoder` (reading
large attachments straight into the bytes objects handed on) and hands each answer to the call with that id.
Nothing starts a thread per call.

Every call has a deadline: when it passes, the caller sends ``$/cancel``, forgets the call and raises
DeadlineExceededError; a late answer is dropped. When the driver's stdout ends, every pending and later call fails
with the error the ``on_exit`` callback builds (DriverExitedError with the exit status and the stderr tail).
"""

from __future__ import annotations

import copy
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, TypeVar

from jsonrpcclient import Error

from registry_storage.errors import DeadlineExceededError, ProtocolError, StorageDriverError
from registry_storage.wire.handshake import Limits

from .calls import Drop, Emit, Instruction, Program, Pull, Receive, Send
from .core import Attachment, ClientCore, Response

T = TypeVar("T")

READ_BYTES = 64 << 10
"""Bytes the reader asks for when it is not reading an attachment straight into its own bytes."""

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


class _NotSentError(Exception):
    """A frame's deadline passed before it could be written whole."""


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
        self.core: ClientCore[PendingCall] = ClientCore(driver, limits)
        """The protocol state (ids, pending calls, limits, error mapping); guarded by the locks below."""
        self.timeout = timeout
        self._reader = reader
        self._writer = writer
        self._writer_fd = writer.fileno()
        self._on_exit = on_exit
        self._ids_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer_closed = False
        self._close_requested = False
        os.set_blocking(self._writer_fd, False)  # every send waits for the pipe with its call's deadline
        self._pending_lock = threading.Lock()
        self._cancels: list[bytes] = []
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
        return self.core.failure

    @property
    def driver(self) -> str:
        """The driver's name, in errors."""
        return self.core.driver

    @driver.setter
    def driver(self, name: str) -> None:
        self.core.driver = name

    @property
    def limits(self) -> Limits:
        """This side's receive limits."""
        return self.core.limits

    @property
    def peer_limits(self) -> Limits:
        """The driver's receive limits; the defaults until the handshake tells them."""
        return self.core.peer_limits

    @peer_limits.setter
    def peer_limits(self, limits: Limits) -> None:
        self.core.peer_limits = limits

    def close_writer(self, timeout: float) -> bool:
        """Close the driver's stdin, waiting up to ``timeout`` seconds for a write in progress; True when closed.

        When the write does not end in time, the writer closes stdin as soon as it does and False is returned.
        """
        self._close_requested = True
        if not self._write_lock.acquire(timeout=timeout):
            return False
        try:
            self._close_stdin()
        finally:
            self._write_lock.release()
        return True

    def _close_stdin(self) -> None:
        """Close stdin; the write lock is held."""
        if not self._writer_closed:
            self._writer_closed = True
            self._writer.close()

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
            request_id, _, pieces = self.core.request(method, params, attachment)
        pending = PendingCall(request_id, method, self.timeout if timeout is None else timeout)
        if self._slots is not None and not self._slots.acquire(timeout=pending.timeout):
            raise DeadlineExceededError(method, pending.timeout, driver=self.driver)
        with self._pending_lock:
            failure = self.core.failure
            if failure is None:
                self.core.register(request_id, pending)
        if failure is not None:
            self._release_slot()
            raise _fresh(failure)
        try:
            self._write(pieces, pending.deadline)
        except _NotSentError:
            self._forget(pending)
            raise DeadlineExceededError(method, pending.timeout, driver=self.driver) from None
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
                if self.core.cancels_with_dollar_cancel(pending.method):
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
        """Send a notification (no answer) within the default deadline.

        Raises the channel's failure when the driver is gone and DeadlineExceededError when the driver does not read
        it in time.
        """
        try:
            self._write([self.core.notification(method, params)], time.monotonic() + self.timeout)
        except _NotSentError:
            raise DeadlineExceededError(method, self.timeout, driver=self.driver) from None

    def abandon(self, pending: PendingCall) -> None:
        """Stop caring about ``pending``: its answer, if it ever comes, is dropped."""
        self._forget(pending)

    def error_from(self, response: Error) -> StorageDriverError:
        """The exception an error response describes (see :func:`~registry_storage.wire.error_from_wire`)."""
        return self.core.error_from(response)

    # -- programs (see registry_storage.client.calls) ---------------------------------------------------------------

    def run(self, program: Program[T], source: Iterator[bytes] | None = None) -> T:
        """Run ``program`` to its result on this thread; :class:`Pull` takes chunks from ``source``."""
        result: list[T] = []
        for _ in self._drive(program, source, result):
            raise ProtocolError("a call emitted values where none were expected", driver=self.driver)
        return result[0]

    def iterate(self, program: Program[Any]) -> Iterator[Any]:
        """Run ``program``, yielding what it emits (walk entries) as it goes."""
        yield from self._drive(program, None, [])

    def _drive(self, program: Program[Any], source: Iterator[bytes] | None, result: list[Any]) -> Iterator[Any]:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = program.send(value) if error is None else program.throw(error)
            except StopIteration as stop:
                result.append(stop.value)
                return
            error = value = None
            try:
                if isinstance(instruction, Emit):
                    yield instruction.value
                else:
                    value = self._perform(instruction, source)
            except BaseException as failure:
                error = failure

    def _perform(self, instruction: Instruction, source: Iterator[bytes] | None) -> Any:
        if isinstance(instruction, Send):
            return self.submit(instruction.method, instruction.params, instruction.attachment, instruction.timeout)
        if isinstance(instruction, Receive):
            return self.wait(instruction.ticket)
        if isinstance(instruction, Drop):
            self.abandon(instruction.ticket)
            return None
        if isinstance(instruction, Pull):
            return next(source, b"") if source is not None else b""
        raise ProtocolError(f"unknown instruction {instruction!r}", driver=self.driver)

    # -- writing -------------------------------------------------------------------------------------------------

    def _write(self, pieces: list[bytes | memoryview], deadline: float) -> None:
        """Write one frame (after any queued cancels) by ``deadline``.

        Raises _NotSentError when the deadline passes before any byte went out (the channel stays usable). When it
        passes with part of the frame written, the channel is failed: the driver could never find the next frame.
        """
        if not self._write_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise _NotSentError
        try:
            if self._writer_closed:
                failure = self.core.failure
                raise _fresh(failure) if failure else ProtocolError("the driver's stdin is closed", driver=self.driver)
            try:
                self._send_cancels()
                self._write_all(pieces, deadline)
            except OSError as error:
                raise self._gone(f"cannot write to the driver: {error.strerror or error}") from error
        finally:
            if self._close_requested:
                self._close_stdin()
            self._write_lock.release()
        if self._cancels:
            self._flush_cancels()

    def _write_all(self, pieces: list[bytes | memoryview], deadline: float) -> None:
        """Write every piece by ``deadline``, waiting for room in the pipe; the write lock is held."""
        total = remaining = sum(len(piece) for piece in pieces)
        while remaining:
            try:
                written = os.writev(self._writer_fd, pieces)
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left > 0 and self._wait_writable(left):
                    continue
                if remaining == total:
                    raise _NotSentError from None
                self._fail_channel(
                    ProtocolError(
                        "the driver stopped reading: a request was cut off mid-frame at its deadline",
                        driver=self.driver,
                    )
                )
                raise _NotSentError from None
            remaining -= written
            while pieces and written >= len(pieces[0]):  # a short write: drop what went out
                written -= len(pieces[0])
                pieces = pieces[1:]
            if written:
                pieces = [memoryview(pieces[0])[written:], *pieces[1:]]

    def _wait_writable(self, timeout: float) -> bool:
        poller = select.poll()
        poller.register(self._writer_fd, select.POLLOUT)
        return bool(poller.poll(max(1, int(timeout * 1000))))

    def _fail_channel(self, failure: StorageDriverError) -> None:
        """End the channel with ``failure``: every pending and later call raises it; stdin is closed (lock held)."""
        with self._pending_lock:
            if self.core.failure is None:
                self.core.failure = failure
            pending = self.core.take_all()
        for call in pending:
            self._release_slot()
            call._fail(_fresh(failure))
        self._close_stdin()

    def _gone(self, reason: str) -> StorageDriverError:
        """The error to raise when the channel cannot be written: the failure once the reader has explained it."""
        self._finished.wait(2.0)
        failure = self.core.failure
        return _fresh(failure) if failure is not None else ProtocolError(reason, driver=self.driver)

    def _queue_cancel(self, request_id: int) -> None:
        self._queue_control([self.core.cancel_frame(request_id)])

    def _queue_control(self, frames: list[bytes]) -> None:
        """Send small control frames (``$/cancel``, ``stream.cancel`` of an orphaned stream) as soon as the pipe
        takes them, without waiting for a write in progress."""
        with self._pending_lock:
            self._cancels.extend(frames)
        self._flush_cancels()

    def _flush_cancels(self) -> None:
        """Send queued ``$/cancel`` notifications now if no write is in progress and the pipe has room (else the next
        writer sends them). Each is smaller than PIPE_BUF, so it goes out whole or not at all."""
        if not self._write_lock.acquire(blocking=False):
            return
        try:
            self._send_cancels()
        except OSError:
            pass  # the reader reports the driver's exit
        finally:
            if self._close_requested:
                self._close_stdin()
            self._write_lock.release()

    def _send_cancels(self) -> None:
        """Write the queued ``$/cancel`` notifications the pipe has room for (the write lock is held)."""
        while self._cancels and not self._writer_closed:
            with self._pending_lock:
                frame = self._cancels[0]
            try:
                os.write(self._writer_fd, frame)  # under PIPE_BUF: all of it or nothing
            except BlockingIOError:
                return  # a full pipe: a later write sends them
            with self._pending_lock:
                self._cancels.pop(0)

    # -- reading -------------------------------------------------------------------------------------------------

    def _release_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def _forget(self, pending: PendingCall) -> bool:
        """Remove ``pending`` from the table; True when it was still there (so no answer will resolve it)."""
        with self._pending_lock:
            removed = self.core.forget(pending.id) is not None
        if removed:
            self._release_slot()
        return removed

    def _read_loop(self) -> None:
        core = self.core
        buffer = memoryview(bytearray(READ_BYTES))
        fd = self._reader.fileno()
        answered: list[PendingCall] = []
        try:
            while True:
                size = core.direct_read_size()
                if size is not None:
                    piece = os.read(fd, size)
                    if not piece:
                        break
                    core.received(piece)
                else:
                    count = os.readv(fd, [buffer])
                    if not count:
                        break
                    core.receive(buffer[:count])
                for event in core.frames():
                    with self._pending_lock:
                        matched = core.match(event)
                    if matched is not None:
                        pending, response, attachment = matched
                        self._release_slot()
                        pending._resolve(response, attachment)
                        answered.append(pending)
                # wake the callers once everything read is decoded: they do not wait for this thread's GIL
                for pending in answered:
                    pending._wake()
                answered.clear()
                with self._pending_lock:
                    orphans = core.orphan_cancel_frames()
                if orphans:
                    self._queue_control(orphans)
        except OSError as error:
            _logger.debug("reading from driver %s failed: %s", self.driver, error)
        finally:
            for pending in answered:
                pending._wake()
            self._conclude()

    def _conclude(self) -> None:
        try:
            failure = self._on_exit()
        except Exception as error:  # the explanation failed; still fail every call
            failure = StorageDriverError(f"the driver's channel ended ({error})", driver=self.driver)
        with self._pending_lock:
            if self.core.failure is None:  # a channel already failed keeps its first explanation
                self.core.failure = failure
            failure = self.core.failure
            pending = self.core.take_all()
        for call in pending:
            self._release_slot()
            call._fail(_fresh(failure))
        self._reader.close()
        self._finished.set()
