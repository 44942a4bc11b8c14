"""The host's open streams (protocol.md section 7).

Every stream has its own :class:`~.serial.SerialQueue`: the requests naming one stream run one at a time, in arrival
order, on a thread borrowed from the session's stream threads, so a slow stream (or one waiting for flow control)
never blocks other streams, other calls or the call pool, and opening a stream starts no thread.

- A :class:`ReadStream` pulls: each ``stream.read`` reads the next chunk from the driver's stream into a buffer the
  stream reuses (the answer is written before the next request of the stream runs).
- A :class:`PutStream` gathers the chunks of a ``put_content`` too large for one attachment and stores them with
  the driver's atomic ``put_content`` when the stream is closed.
- A :class:`WriteStream` runs the driver's ``write_stream`` on a stream thread of its own, fed by a small bounded
  queue of chunks; ``stream.write`` returns once its chunk is in the queue. Cancelling makes the chunk iterator raise
  :class:`~registry_storage.errors.OperationCancelledError`, so the driver keeps the base plus a prefix.

:class:`StreamTable` numbers the streams, enforces ``max_streams`` and ``stream_window`` (error 1009, raised as
:class:`~registry_storage.errors.ProtocolError`), and cancels whatever is still open when the session ends.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from io import BufferedIOBase

from registry_storage.driver import StorageDriver
from registry_storage.errors import OperationCancelledError, ProtocolError, StorageDriverError
from registry_storage.wire import Limits

from .serial import SerialQueue, Threads

logger = logging.getLogger("registry_storage.host")

WRITE_QUEUE_CHUNKS = 2
"""Chunks a write stream accepts ahead of the driver's write."""

Job = Callable[[], None]


class StreamFailedError(Exception):
    """A stream's driver call failed unexpectedly (not with a StorageDriverError); already logged with traceback."""


class Stream(abc.ABC):
    """What read and write streams share: an id, a path, a serial queue and a count of requests in flight."""

    kind = "stream"

    def __init__(self, stream_id: int, path: str, threads: Threads) -> None:
        self.id = stream_id
        self.path = path
        self.threads = threads
        self.requests = SerialQueue(threads)
        """Runs the requests naming this stream, one at a time, in arrival order."""
        self.in_flight = 0
        """``stream.read``/``stream.write`` requests routed to this stream and not answered yet (table lock)."""

    @abc.abstractmethod
    def interrupt(self) -> None:
        """Stop the stream early without waiting (safe from any thread); the next request sees it cancelled."""

    @abc.abstractmethod
    def finish(self, timeout: float | None = None) -> None:
        """End the stream as cancelled and release its resources, waiting at most ``timeout`` seconds."""


class ReadStream(Stream):
    """A driver read stream served by pulls of at most ``size`` bytes."""

    kind = "read"

    def __init__(self, stream_id: int, path: str, threads: Threads, source: BufferedIOBase) -> None:
        super().__init__(stream_id, path, threads)
        self._source = source
        self._buffer = bytearray()
        self._cancelled = False

    def read(self, size: int) -> tuple[memoryview, bool]:
        """The next bytes (at most ``size``) and whether the end was reached.

        The returned view stays valid until the next call; only this stream's worker calls it. Raises
        OperationCancelledError once interrupted, and whatever the driver's stream raises.
        """
        if self._cancelled:
            raise OperationCancelledError("read_stream")
        if len(self._buffer) < size:
            self._buffer = bytearray(size)
        view = memoryview(self._buffer)[:size]
        filled = 0
        while filled < size:
            count = self._source.readinto(view[filled:])
            if not count:
                return view[:filled], True
            filled += count
        return view, False

    def interrupt(self) -> None:
        self._cancelled = True

    def finish(self, timeout: float | None = None) -> None:
        self._cancelled = True
        try:
            self._source.close()
        except Exception:
            logger.exception("closing read stream %d of %s failed", self.id, self.path)


class WriteStream(Stream):
    """A driver ``write_stream`` running on a stream thread of its own, fed chunk by chunk."""

    kind = "write"

    def __init__(self, stream_id: int, path: str, threads: Threads, offset: int, driver: StorageDriver) -> None:
        super().__init__(stream_id, path, threads)
        self._queue: deque[bytes | bytearray | memoryview] = deque()
        self._changed = threading.Condition(threading.Lock())
        self._started = False
        self._ended = False
        self._cancelled = False
        self._finished = False
        self._written = 0
        self._error: BaseException | None = None
        self._driver = driver
        self._offset = offset

    def start(self) -> None:
        """Start the driver's write and wait until it asks for its first chunk.

        Raises what the driver raised if it failed before that (an invalid offset, a path conflict...).
        """
        context = contextvars.copy_context()  # the opener's: the write's span joins the caller's trace
        self.threads.run(lambda: context.run(self._write, self._driver, self.path, self._offset))
        with self._changed:
            while not self._started and not self._finished:
                self._changed.wait()
            if self._finished and self._error is not None:
                raise self._error

    def put(self, chunk: bytes | bytearray | memoryview) -> None:
        """Hand ``chunk`` to the write, waiting while the queue is full.

        Raises OperationCancelledError once the stream was cancelled, and the write's error once it failed.
        """
        with self._changed:
            while len(self._queue) >= WRITE_QUEUE_CHUNKS and not self._cancelled and not self._finished:
                self._changed.wait()
            self._check_usable()
            if chunk:
                self._queue.append(chunk)
                self._changed.notify_all()

    def close(self) -> int:
        """End the content, wait for the write to finish and return the bytes written; raises the write's error."""
        with self._changed:
            if not self._cancelled:
                self._ended = True
                self._changed.notify_all()
            while not self._finished:
                self._changed.wait()
            self._check_usable()
            return self._written

    def interrupt(self) -> None:
        with self._changed:
            self._cancelled = True
            self._changed.notify_all()

    def finish(self, timeout: float | None = None) -> None:
        self.interrupt()
        with self._changed:
            self._changed.wait_for(lambda: self._finished, timeout)
            finished = self._finished
        if not finished:
            logger.warning("write stream %d of %s did not stop within %s s", self.id, self.path, timeout)

    def _check_usable(self) -> None:
        """Raise the reason the stream cannot take more (cancelled, failed); the condition's lock is held."""
        if self._cancelled:
            raise OperationCancelledError("write_stream")
        if self._error is not None:
            raise self._error
        if self._finished and not self._ended:
            raise ProtocolError(f"the write of stream {self.id} ended before its content did")

    def _chunks(self) -> Iterator[bytes]:
        """The chunks as they arrive; raises OperationCancelledError when the stream is cancelled."""
        while True:
            with self._changed:
                if not self._started:
                    self._started = True
                    self._changed.notify_all()
                while not self._queue and not self._ended and not self._cancelled:
                    self._changed.wait()
                if self._cancelled:
                    raise OperationCancelledError("write_stream")
                if not self._queue:
                    return
                chunk = self._queue.popleft()
                self._changed.notify_all()
            yield bytes(chunk)

    def _write(self, driver: StorageDriver, path: str, offset: int) -> None:
        error: BaseException | None = None
        written = 0
        try:
            written = driver.write_stream(path, offset, self._chunks())
        except StorageDriverError as failure:
            error = failure
        except Exception as failure:
            logger.error("write stream %d of %s failed", self.id, path, exc_info=failure)
            error = StreamFailedError()
        with self._changed:
            self._written = written
            self._error = error
            self._finished = True
            self._queue.clear()
            self._changed.notify_all()


class PutStream(WriteStream):
    """``put_content`` of content too large for one attachment (protocol 1.1): the chunks are gathered and the
    driver's atomic ``put_content`` runs at ``stream.close``, so readers see the old content or the new one. A
    cancelled put changes nothing."""

    kind = "put"

    def __init__(self, stream_id: int, path: str, threads: Threads, driver: StorageDriver) -> None:
        Stream.__init__(self, stream_id, path, threads)
        self._driver = driver
        self._content = bytearray()
        self._lock = threading.Lock()
        self._cancelled = False

    def start(self) -> None:
        return

    def put(self, chunk: bytes | bytearray | memoryview) -> None:
        with self._lock:
            if self._cancelled:
                raise OperationCancelledError("put_content")
            self._content += chunk

    def close(self) -> int:
        with self._lock:
            if self._cancelled:
                raise OperationCancelledError("put_content")
            content, self._content = bytes(self._content), bytearray()
        self._driver.put_content(self.path, content)
        return len(content)

    def interrupt(self) -> None:
        with self._lock:
            self._cancelled = True
            self._content = bytearray()

    def finish(self, timeout: float | None = None) -> None:
        self.interrupt()


class StreamTable:
    """The open streams of one session, by id.

    Ids start at 1 and are never reused. Opening raises ProtocolError (1009) when ``max_streams`` are open;
    :meth:`route` refuses a ``stream.read``/``stream.write`` beyond ``stream_window`` in flight.
    """

    def __init__(self, driver: StorageDriver, limits: Limits) -> None:
        self._driver = driver
        self._limits = limits
        self._threads = Threads("registry-storage-stream")
        self._lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._reserved = 0
        self._cancelling: set[int] = set()
        """Streams a ``stream.cancel`` is on its way to: still open for their earlier requests, but no longer
        counted against ``max_streams``, so a client that does not wait for the cancel's answer can open another."""
        self._next_id = 1

    # -- opening ---------------------------------------------------------------------------------------------------

    def open_read(self, path: str, offset: int) -> int:
        """Open the driver's read stream of ``path`` at ``offset``; returns the new stream id."""
        stream_id = self._reserve()
        try:
            source = self._driver.read_stream(path, offset)
        except BaseException:
            self._release()
            raise
        return self._register(ReadStream(stream_id, path, self._threads, source))

    def open_write(self, path: str, offset: int) -> int:
        """Start the driver's write stream to ``path`` at ``offset``; returns the new stream id.

        Raises what the driver raised before asking for content (an invalid offset, a path conflict...).
        """
        stream_id = self._reserve()
        stream = WriteStream(stream_id, path, self._threads, offset, self._driver)
        try:
            stream.start()
        except BaseException:
            self._release()
            raise
        return self._register(stream)

    def open_put(self, path: str) -> int:
        """Open a put stream to ``path`` (see :class:`PutStream`); returns the new stream id."""
        stream_id = self._reserve()
        return self._register(PutStream(stream_id, path, self._threads, self._driver))

    def _reserve(self) -> int:
        with self._lock:
            if len(self._streams) - len(self._cancelling) + self._reserved >= self._limits.max_streams:
                raise ProtocolError(f"too many open streams (max_streams is {self._limits.max_streams})")
            self._reserved += 1
            stream_id = self._next_id
            self._next_id += 1
            return stream_id

    def _release(self) -> None:
        with self._lock:
            self._reserved -= 1

    def _register(self, stream: Stream) -> int:
        with self._lock:
            self._reserved -= 1
            self._streams[stream.id] = stream
        return stream.id

    # -- requests --------------------------------------------------------------------------------------------------

    def route(self, stream_id: object, job: Job, *, counted: bool, here: bool = False) -> Job | bool | None:
        """Queue ``job`` behind the earlier requests of stream ``stream_id``.

        Returns True when queued, None when no such stream is open (the caller serves the request elsewhere, where
        it finds the stream unknown), and False when ``counted`` (a ``stream.read``/``stream.write``) would exceed
        ``stream_window``: the job is not queued (the caller answers 1009, then interrupts a write stream). With
        ``here``, a stream with no request queued or running returns the job instead, for the caller to run on its
        own thread while the stream's later requests wait behind it (:meth:`SerialQueue.submit_or_claim`).
        """
        if not isinstance(stream_id, int) or isinstance(stream_id, bool):
            return None
        with self._lock:
            stream = self._streams.get(stream_id)
            if stream is None:
                return None
            if counted:
                if stream.in_flight >= self._limits.stream_window:
                    return False
                stream.in_flight += 1
            if here:
                return stream.requests.submit_or_claim(job) or True
            stream.requests.submit(job)
            return True

    def answered(self, stream_id: object) -> None:
        """Record that a counted request of ``stream_id`` was answered."""
        with self._lock:
            stream = self._streams.get(stream_id) if isinstance(stream_id, int) else None
            if stream is not None and stream.in_flight:
                stream.in_flight -= 1

    def interrupt(self, stream_id: object, kind: type[Stream] = Stream) -> None:
        """Cancel stream ``stream_id`` (if it is a ``kind``) without waiting: for ``$/cancel`` of one of its queued
        requests, or an excess write."""
        with self._lock:
            stream = self._streams.get(stream_id) if isinstance(stream_id, int) else None
        if isinstance(stream, kind):
            stream.interrupt()

    def cancelling(self, stream_id: object) -> None:
        """A ``stream.cancel`` of ``stream_id`` arrived: stop the stream at once, and stop counting it against
        ``max_streams`` (its answer still comes after those of its earlier requests)."""
        with self._lock:
            stream = self._streams.get(stream_id) if isinstance(stream_id, int) else None
            if stream is not None:
                self._cancelling.add(stream.id)
        if stream is not None:
            stream.interrupt()

    def get(self, stream_id: int, kind: type[Stream] = Stream) -> Stream:
        """The open stream ``stream_id`` of type ``kind``; raises ProtocolError (1009) for any other id."""
        with self._lock:
            stream = self._streams.get(stream_id)
        if not isinstance(stream, kind):
            raise ProtocolError(f"unknown stream {stream_id}")
        return stream

    def find(self, stream_id: int) -> Stream | None:
        """The open stream ``stream_id``, or None."""
        with self._lock:
            return self._streams.get(stream_id)

    def remove(self, stream: Stream) -> None:
        """Forget ``stream``: later requests naming it find it unknown (those already queued still run)."""
        with self._lock:
            if self._streams.get(stream.id) is stream:
                del self._streams[stream.id]
                self._cancelling.discard(stream.id)

    def discard(self, stream: Stream) -> None:
        """End ``stream`` as cancelled (:meth:`Stream.finish`) and forget it, even when finishing fails."""
        try:
            stream.finish()
        finally:
            self.remove(stream)

    def finish_all(self, timeout: float) -> None:
        """Cancel every open stream (write streams keep base + prefix), waiting at most ``timeout`` seconds overall."""
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
            self._cancelling.clear()
        deadline = time.monotonic() + timeout
        for stream in streams:
            stream.interrupt()
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.finish(max(0.0, deadline - time.monotonic()))
        self._threads.shutdown()

    def __len__(self) -> int:
        with self._lock:
            return len(self._streams)


__all__ = ["PutStream", "ReadStream", "Stream", "StreamFailedError", "StreamTable", "WriteStream"]
