"""The asyncio edge of the client core: one driver's channel on the event loop, no thread per call or per stream.

The driver's stdout is read by an event-loop reader callback (``loop.add_reader``) into the
:class:`~registry_storage.client.core.ClientCore` (large attachments straight into their own bytes objects); each
answer resolves its call's future. Frames go out through a queue flushed with non-blocking writes when the pipe has
room (``loop.add_writer``), in order, each send bounded by its call's deadline: a frame not started by then is
withdrawn, one cut off mid-way fails the channel. A call waits for its future until its deadline (then ``$/cancel``
and DeadlineExceededError); a task cancelled while it waits cancels the request on the driver the same way. The
method-level logic is the programs of :mod:`.calls`, run by :meth:`AsyncConnection.run` and
:meth:`AsyncConnection.iterate`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import IO, Any, TypeVar

from jsonrpcclient import Error

from registry_storage.errors import DeadlineExceededError, ProtocolError, StorageDriverError
from registry_storage.wire.handshake import Limits

from .calls import Drop, Emit, Instruction, Program, Pull, Receive, Send
from .core import Attachment, ClientCore, Pieces, Response

T = TypeVar("T")
READ_BYTES = 64 << 10
"""Bytes asked for when not reading an attachment straight into its own bytes (as the threaded edge)."""
EXIT_EXPLAINED = 2.0
"""Seconds a failed write waits for the reader to explain the driver's exit."""
_logger = logging.getLogger("registry_storage.client")


class _Failed:
    """The result of a call that the channel's end failed (kept out of the future's exception slot, so a call
    nobody waits for any more logs nothing)."""

    __slots__ = ("error",)

    def __init__(self, error: StorageDriverError) -> None:
        self.error = error


_EXPIRED = object()
"""The result a call's future gets when its deadline passes first."""


class AsyncCall:
    """A request sent and not yet answered: the ticket :meth:`AsyncConnection.wait` takes."""

    __slots__ = ("deadline", "future", "id", "method", "timeout")

    def __init__(self, request_id: int, method: str, timeout: float, future: asyncio.Future[Any]) -> None:
        self.id = request_id
        self.method = method
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.future = future


class _Outgoing:
    """A frame in the send queue and how much of it is still to go."""

    __slots__ = ("done", "pieces", "remaining", "total")

    def __init__(self, pieces: Pieces, done: asyncio.Future[None]) -> None:
        self.pieces = pieces
        self.total = self.remaining = sum(len(piece) for piece in pieces)
        self.done = done

    def advance(self, written: int) -> None:
        self.remaining -= written
        pieces = self.pieces
        while pieces and written >= len(pieces[0]):
            written -= len(pieces[0])
            pieces = pieces[1:]
        if written:
            pieces = [memoryview(pieces[0])[written:], *pieces[1:]]
        self.pieces = pieces


class AsyncConnection:
    """The client end of one driver's channel on the running event loop.

    ``reader``/``writer`` are the driver's stdout and stdin (the connection closes them); ``on_exit`` explains the
    end of stdout (it may block, so it runs on the loop's default executor, once). ``timeout`` is the default
    deadline of a call; ``limits`` this side's receive limits.
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
        self.core: ClientCore[AsyncCall] = ClientCore(driver, limits)
        self.timeout = timeout
        self._reader = reader
        self._writer = writer
        self._read_fd = reader.fileno()
        self._write_fd = writer.fileno()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._on_exit = on_exit
        self._loop = asyncio.get_running_loop()
        self._buffer = memoryview(bytearray(READ_BYTES))
        self._queue: deque[_Outgoing] = deque()
        self._writing = False
        self._writer_closed = False
        self._slots: asyncio.Semaphore | None = None
        self._finished = asyncio.Event()
        self._loop.add_reader(self._read_fd, self._on_readable)

    @property
    def driver(self) -> str:
        return self.core.driver

    @property
    def failure(self) -> StorageDriverError | None:
        """Why the channel ended, or None while it is open."""
        return self.core.failure

    def limit_in_flight(self, count: int) -> None:
        """Keep at most ``count`` requests unanswered (for a driver that does not serve requests concurrently)."""
        self._slots = asyncio.Semaphore(count)

    # -- calls ---------------------------------------------------------------------------------------------------

    async def submit(
        self, method: str, params: Mapping[str, Any], attachment: Attachment = b"", timeout: float | None = None
    ) -> AsyncCall:
        """Send a request within its deadline and return its ticket.

        Raises the channel's failure when the driver is gone, DeadlineExceededError when the request could not be
        sent in time, and ProtocolError when it is over the driver's limits.
        """
        request_id, _, pieces = self.core.request(method, params, attachment)
        pending = AsyncCall(
            request_id, method, self.timeout if timeout is None else timeout, self._loop.create_future()
        )
        if self._slots is not None:
            try:
                await asyncio.wait_for(self._slots.acquire(), max(0.0, pending.deadline - time.monotonic()))
            except asyncio.TimeoutError:
                raise DeadlineExceededError(method, pending.timeout, driver=self.driver) from None
        if self.core.failure is not None:
            self._release_slot()
            raise copy.copy(self.core.failure)
        self.core.register(request_id, pending)
        outgoing = self._enqueue(pieces)
        try:
            if not outgoing.done.done():
                await asyncio.wait((outgoing.done,), timeout=max(0.0, pending.deadline - time.monotonic()))
        except asyncio.CancelledError:
            self._withdraw(outgoing, pending, cancelled=True)
            raise
        if not outgoing.done.done():
            self._withdraw(outgoing, pending, cancelled=False)
            raise DeadlineExceededError(method, pending.timeout, driver=self.driver)
        if outgoing.done.exception() is not None:
            self._forget(pending)
            await self.join(EXIT_EXPLAINED)  # the reader explains the end (DriverExitedError) in a moment
            raise self._gone()
        return pending

    def _withdraw(self, outgoing: _Outgoing, pending: AsyncCall, *, cancelled: bool) -> None:
        """A send that did not finish: withdraw it if untouched; cut off at a deadline, fail the channel."""
        self._forget(pending)
        if outgoing.remaining == outgoing.total and outgoing in self._queue:
            self._queue.remove(outgoing)
        elif cancelled:
            self._cancel(pending)  # the frame goes out whole; the driver drops the request
        elif outgoing.remaining:
            reason = "the driver stopped reading: a request was cut off mid-frame at its deadline"
            self._fail(ProtocolError(reason, driver=self.driver))

    async def wait(self, pending: AsyncCall) -> tuple[Response, bytes | bytearray]:
        """The answer to ``pending`` (Ok or Error) and its attachment, waiting until its deadline.

        Raises DeadlineExceededError when it passes (the request is cancelled with ``$/cancel``), the channel's
        failure when the driver exits first; a cancelled task cancels the request the same way.
        """
        future = pending.future
        if not future.done():
            timer = self._loop.call_at(pending.deadline, self._expire, pending)
            try:
                await future
            except asyncio.CancelledError:
                if self._forget(pending):
                    self._cancel(pending)
                raise
            finally:
                timer.cancel()
        if future.result() is _EXPIRED:
            raise DeadlineExceededError(pending.method, pending.timeout, driver=self.driver)
        result = future.result()
        if isinstance(result, _Failed):
            raise copy.copy(result.error)
        answer: tuple[Response, bytes | bytearray] = result
        return answer

    def _expire(self, pending: AsyncCall) -> None:
        """The deadline of ``pending`` passed: cancel it on the driver and wake its caller."""
        if self._forget(pending):
            self._cancel(pending)
            pending.future.set_result(_EXPIRED)

    def abandon(self, pending: AsyncCall) -> None:
        """Stop caring about ``pending``: its answer, if it ever comes, is dropped."""
        self._forget(pending)

    async def call(
        self, method: str, params: Mapping[str, Any], attachment: Attachment = b"", timeout: float | None = None
    ) -> tuple[Any, bytes | bytearray]:
        """One request: its result and attachment, or the driver's error rebuilt."""
        response, data = await self.wait(await self.submit(method, params, attachment, timeout))
        if isinstance(response, Error):
            raise self.core.error_from(response)
        return response.result, data

    # -- programs ------------------------------------------------------------------------------------------------

    async def run(self, program: Program[T], source: AsyncIterator[bytes] | None = None) -> T:
        """Run ``program`` to its result; :class:`Pull` takes chunks from ``source``."""
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = program.send(value) if error is None else program.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            error = value = None
            if isinstance(instruction, Emit):
                error = ProtocolError("a call emitted values where none were expected", driver=self.driver)
                continue
            try:
                value = await self._perform(instruction, source)
            except BaseException as failure:
                error = failure

    async def iterate(self, program: Program[Any]) -> AsyncIterator[Any]:
        """Run ``program``, yielding what it emits (walk entries) as it goes."""
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = program.send(value) if error is None else program.throw(error)
            except StopIteration:
                return
            error = value = None
            try:
                if isinstance(instruction, Emit):
                    yield instruction.value
                else:
                    value = await self._perform(instruction, None)
            except BaseException as failure:
                error = failure

    def _perform(self, instruction: Instruction, source: AsyncIterator[bytes] | None) -> Awaitable[Any]:
        if isinstance(instruction, Send):
            return self.submit(instruction.method, instruction.params, instruction.attachment, instruction.timeout)
        if isinstance(instruction, Receive):
            return self.wait(instruction.ticket)
        if isinstance(instruction, Pull):
            return _next_chunk(source)
        if isinstance(instruction, Drop):
            self.abandon(instruction.ticket)
            return _done()
        raise ProtocolError(f"unknown instruction {instruction!r}", driver=self.driver)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def close_writer(self) -> None:
        """Close the driver's stdin now (a frame still queued is dropped; the driver sees the end of input)."""
        if self._writer_closed:
            return
        self._writer_closed = True
        if self._writing:
            self._loop.remove_writer(self._write_fd)
            self._writing = False
        while self._queue:
            outgoing = self._queue.popleft()
            if not outgoing.done.done():
                outgoing.done.set_exception(BrokenPipeError())
                outgoing.done.exception()  # retrieved: nobody may wait for it any more
        self._writer.close()

    async def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the end of the driver's stdout; True when it has ended."""
        try:
            await asyncio.wait_for(self._finished.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def detach(self) -> None:
        """Stop reading and close both pipes at once (the event loop is going away)."""
        if not self._finished.is_set():
            self._loop.remove_reader(self._read_fd)
            self._conclude(StorageDriverError("the driver proxy was closed", driver=self.driver))
        self.close_writer()

    # -- writing -------------------------------------------------------------------------------------------------

    def _enqueue(self, pieces: Pieces) -> _Outgoing:
        outgoing = _Outgoing(pieces, self._loop.create_future())
        if self._writer_closed:
            outgoing.done.set_exception(BrokenPipeError())
            return outgoing
        self._queue.append(outgoing)
        if len(self._queue) == 1:
            self._flush()
        return outgoing

    def _cancel(self, pending: AsyncCall) -> None:
        if (
            self.core.failure is None
            and not self._writer_closed
            and self.core.cancels_with_dollar_cancel(pending.method)
        ):
            self._enqueue([self.core.cancel_frame(pending.id)])

    def _flush(self) -> None:
        """Write queued frames while the pipe takes them; wait for room with the loop's writer callback."""
        while self._queue:
            outgoing = self._queue[0]
            try:
                written = os.writev(self._write_fd, outgoing.pieces)
            except BlockingIOError:
                break
            except OSError as error:
                _logger.debug("writing to driver %s failed: %s", self.driver, error)
                for failed in self._queue:
                    if not failed.done.done():
                        failed.done.set_exception(error)
                        failed.done.exception()
                self._queue.clear()
                break
            outgoing.advance(written)
            if outgoing.remaining:
                break
            self._queue.popleft()
            if not outgoing.done.done():
                outgoing.done.set_result(None)
        if self._queue and not self._writing:
            self._loop.add_writer(self._write_fd, self._flush)
            self._writing = True
        elif not self._queue and self._writing:
            self._loop.remove_writer(self._write_fd)
            self._writing = False

    def _gone(self) -> StorageDriverError:
        failure = self.core.failure
        return copy.copy(failure) if failure else ProtocolError("cannot write to the driver", driver=self.driver)

    # -- reading -------------------------------------------------------------------------------------------------

    def _release_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def _forget(self, pending: AsyncCall) -> bool:
        removed = self.core.forget(pending.id) is not None
        if removed:
            self._release_slot()
        return removed

    def _on_readable(self) -> None:
        core = self.core
        size = core.direct_read_size()
        try:
            if size is not None:
                piece = os.read(self._read_fd, size)
                count = len(piece)
                if count:
                    core.received(piece)
            else:
                count = os.readv(self._read_fd, [self._buffer])
                if count:
                    core.receive(self._buffer[:count])
        except BlockingIOError:
            return
        except OSError as error:
            _logger.debug("reading from driver %s failed: %s", self.driver, error)
            count = 0
        if not count:
            self._loop.remove_reader(self._read_fd)
            self._loop.create_task(self._explain_exit())
            return
        for pending, response, attachment in core.answers():
            self._release_slot()
            if not pending.future.done():
                pending.future.set_result((response, attachment))
        orphans = core.orphan_cancel_frames()
        if orphans and core.failure is None and not self._writer_closed:
            self._enqueue(list[bytes | memoryview](orphans))

    async def _explain_exit(self) -> None:
        try:
            failure = await self._loop.run_in_executor(None, self._on_exit)
        except Exception as error:  # the explanation failed; still fail every call
            failure = StorageDriverError(f"the driver's channel ended ({error})", driver=self.driver)
        self._conclude(failure)

    def _fail(self, failure: StorageDriverError) -> None:
        """End the channel with ``failure`` now (a frame cut off mid-way): every pending and later call raises it."""
        if self.core.failure is None:
            self.core.failure = failure
        for pending in self.core.take_all():
            self._release_slot()
            if not pending.future.done():
                pending.future.set_result(_Failed(failure))
        self.close_writer()

    def _conclude(self, failure: StorageDriverError) -> None:
        if self._finished.is_set():
            return
        if self.core.failure is None:  # a channel already failed keeps its first explanation
            self.core.failure = failure
        for pending in self.core.take_all():
            self._release_slot()
            if not pending.future.done():
                pending.future.set_result(_Failed(self.core.failure))
        self._reader.close()
        self._finished.set()


async def _next_chunk(source: AsyncIterator[bytes] | None) -> bytes:
    if source is None:
        return b""
    try:
        return await source.__anext__()
    except StopAsyncIteration:
        return b""


async def _done() -> None:
    return None
