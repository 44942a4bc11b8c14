"""One protocol session: the reader loop, the handshake gate, request scheduling, cancellation and the end.

Concurrency. One thread at a time reads frames. A request that arrives alone (none other in flight, no more input
buffered) runs on that reader itself; other requests go to the session's pool (``workers`` threads and the
reader's), except those naming a stream, which run in arrival order in their stream's serial queue (:mod:`.serial`,
on threads the session shares) and on the reader when the queue is idle and the request is alone or a
``stream.cancel``. When the reader has run one request for longer than ``RELIEF_DELAY``, :meth:`Server.run` starts a
new reader task and the old one stops reading once its request ends, so a slow call never stalls the others. The
reader waits while ``4 x workers`` requests are queued or the attachments in flight hold ``max_in_flight_bytes``,
which pushes back on the client and bounds memory. Answers are written by whichever thread produced them, through
one locked frame writer.

Why requests run on the reader, measured through the proxy (inmemory, a loaded 2-core machine, interleaved rounds):
a ``stat`` took 320-365 us of wall time and 198-224 us of the child's CPU, against 405-494 us and 240-328 us with
every request sent to the pool; and a 4 KiB ranged read (an open, then a ``stream.cancel`` the client does not wait
for, which lands beside its next request) took 1.6 stat round trips with the cancel run on the reader, against 2.3.

The session ends on ``shutdown`` (answered after every other pending answer), at end of input, when the output
breaks, or on :meth:`Server.stop`; open streams are then cancelled, so write streams keep base + prefix.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from registry_storage.driver import StorageDriver
from registry_storage.errors import ProtocolError
from registry_storage.wire import PROTOCOL_VERSION, Frame, FrameError, Limits, error_to_wire, loads
from registry_storage.wire import errors as codes

from .budget import ByteBudget
from .channel import FrameReader, FrameWriter
from .methods import Call, Dispatcher, Session, build_methods, internal_data, is_request, protocol_data
from .streams import StreamTable, WriteStream

logger = logging.getLogger("registry_storage.host")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BROKEN = 3

RELIEF_DELAY = 0.002
"""Seconds a lone request may hold the reader before another reader task takes over the input."""
MAX_IN_FLIGHT_BYTES = 64 << 20
"""Attachment bytes of the requests read and not yet answered, beyond which the reader waits (one request alone
always passes, so a frame up to ``max_attachment_bytes`` is still served)."""
_RELIEF_IDLE = 1.0
"""Seconds without lone requests after which the relief watch sleeps until the next one."""

_QUEUED, _RUNNING, _CANCELLED = range(3)
_COUNTED = frozenset({"stream.read", "stream.write"})


class _LoneRun:
    """A lone request run on a reader's thread; ``relieved`` once another reader task took over the reading."""

    __slots__ = ("relieved", "since")

    def __init__(self, since: float) -> None:
        self.since = since
        self.relieved = False


class _Job:
    """One request on its way to an answer."""

    __slots__ = ("admitted", "bytes", "call", "counted", "has_id", "id", "message", "method", "state", "stream")

    def __init__(self, message: dict[str, Any], attachment: bytes) -> None:
        self.message = message
        self.call = Call(attachment)
        self.method: str = message["method"]
        self.has_id = "id" in message
        self.id: object = message.get("id")
        params = message.get("params")
        self.stream: object = params.get("stream") if isinstance(params, dict) else None
        self.state = _QUEUED
        self.counted = False
        self.admitted = False
        """Holds a place of the admission bound, given back when the job is forgotten."""
        self.bytes = len(attachment)
        """The share of the in-flight byte budget the job holds until it is forgotten."""


class Server:
    """Serves ``driver`` over the frames of ``reader`` and ``writer`` until the session ends.

    ``limits`` are the receive limits the driver announces; ``grace`` bounds, in seconds, the wait for answers still
    pending when the session ends.
    """

    def __init__(
        self,
        driver: StorageDriver,
        reader: FrameReader,
        writer: FrameWriter,
        *,
        limits: Limits,
        workers: int = 8,
        grace: float = 10.0,
        max_in_flight_bytes: int = MAX_IN_FLIGHT_BYTES,
        protocol_version: str = PROTOCOL_VERSION,
    ) -> None:
        self._driver = driver
        self._name = driver.name
        self._reader = reader
        self._writer = writer
        self._grace = grace
        self._streams = StreamTable(driver, limits)
        self._session = Session(driver, limits, self._streams, self._cancel, supported=protocol_version)
        self._dispatcher = Dispatcher(build_methods(self._session), driver.name)
        self._threads = workers + 1  # the requests' threads and the reader's
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="registry-storage-call")
        self._pool_tasks = 0
        self._admission = threading.BoundedSemaphore(4 * workers)
        self._budget = ByteBudget(max_in_flight_bytes)
        self._frames = iter(reader)
        self._reading_ended = threading.Event()
        self._shutdown: dict[str, Any] | None = None
        self._relief = threading.Condition(threading.Lock())
        self._lone: _LoneRun | None = None
        """The lone request running on a reader's thread and not yet relieved, if any."""
        self._last_lone = 0.0
        self._relief_asleep = False
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._queued: dict[object, _Job] = {}
        self._status: int | None = None

    # -- the session -------------------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until the session ends; returns the exit status (protocol.md section 10)."""
        self._start_task(self._read)
        self._watch_lone_requests()
        if self._shutdown is None and self._status is None:
            logger.info("end of input; stopping")
        self._finish(self._shutdown)
        return EXIT_OK if self._status is None else self._status

    def _read(self) -> None:
        """A pool task: read and route frames until the input ends, or until a lone request run here was relieved
        (another reader task reads on)."""
        relieved = False
        try:
            for event in self._frames:
                if isinstance(event, FrameError):
                    data = protocol_data(self._name, event.reason)
                    self._send(self._dispatcher.error(None, codes.INVALID_REQUEST, "Invalid request", data))
                    continue
                work = self._receive(event)
                if work is not None:
                    relieved = self._run_lone(work)
                    if relieved:
                        break
                if self._shutdown is not None:  # set by this thread, which is still the only reader
                    break
        except Exception:
            logger.exception("the host failed")
            self._stop_with(EXIT_FAILURE)
        finally:
            self._end_task()
        if not relieved:
            self._reading_ended.set()
            with self._relief:
                self._relief.notify_all()

    def _run_lone(self, work: Callable[[], None]) -> bool:
        """Run a request on the reader's thread; True when another reader task took over meanwhile."""
        lone = _LoneRun(time.monotonic())
        with self._relief:
            self._lone = lone
            self._last_lone = lone.since
            if self._relief_asleep:
                self._relief.notify_all()
        try:
            work()
        finally:
            with self._relief:
                if self._lone is lone:
                    self._lone = None
        return lone.relieved

    def _watch_lone_requests(self) -> None:
        """Until the reading ends: start another reader task when a lone request holds the reader too long.

        Checks every RELIEF_DELAY while lone requests come, and sleeps until the next one after a quiet second.
        """
        with self._relief:
            while not self._reading_ended.is_set():
                now = time.monotonic()
                lone = self._lone
                if lone is not None and now - lone.since >= RELIEF_DELAY:
                    lone.relieved = True  # its reader stops reading once the request ends; a new one reads on
                    self._lone = None
                    self._start_task(self._read)
                self._relief_asleep = now - self._last_lone > _RELIEF_IDLE
                self._relief.wait(None if self._relief_asleep else RELIEF_DELAY)

    def _start_task(self, task: Callable[[], None]) -> None:
        with self._lock:
            self._pool_tasks += 1
        self._pool.submit(task)

    def _end_task(self) -> None:
        with self._lock:
            self._pool_tasks -= 1

    def stop(self, status: int) -> None:
        """End the session from any thread (a signal, the parent's death): stop reading and finish quickly.

        :meth:`run` then returns ``status``.
        """
        self._stop_with(status)

    def _stop_with(self, status: int) -> None:
        with self._lock:
            if self._status is None:
                self._status = status
            self._idle.notify_all()
        self._budget.close()
        self._reader.stop()

    def _finish(self, shutdown: dict[str, Any] | None) -> None:
        """Wait for pending answers, cancel open streams, answer ``shutdown`` if it came, release the driver."""
        deadline = time.monotonic() + self._grace
        with self._lock:
            while self._active and self._status is None and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
            hurried = self._status is not None
        self._streams.finish_all(1.0 if hurried else max(1.0, deadline - time.monotonic()))
        self._session.pages.close()
        if shutdown is not None and self._status is None:
            reply = self._dispatcher.dispatch_valid(shutdown, Call())
            if reply is not None:
                self._send(reply)
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            self._driver.close()
        except Exception:
            logger.exception("closing the driver failed")

    # -- routing -----------------------------------------------------------------------------------------------

    def _receive(self, frame: Frame) -> Callable[[], None] | None:
        """Route one frame; returns the work the reader runs itself (see :meth:`_schedule`), else None.

        A ``shutdown`` request is kept in ``self._shutdown``; the reading then ends.
        """
        try:
            message = loads(frame.message)
        except ValueError:
            self._send(self._dispatcher.dispatch_unparsed(frame.message))
            return None
        if not is_request(message):
            reply = self._dispatcher.dispatch(message, Call())
            if reply is not None:
                self._send(reply)
            return None
        method: str = message["method"]
        if (self._session.version is None) != (method == "handshake"):  # handshake first, and only once
            self._refuse_handshake_order(message)
            return None
        if not isinstance(message.get("params", {}), dict):
            reason = "params must be an object"
            self._refuse(message, codes.INVALID_PARAMS, "Invalid params", protocol_data(self._name, reason))
            return None
        if method in ("handshake", "$/cancel"):
            self._serve_inline(message, frame)
            return None
        if method == "shutdown":
            self._shutdown = cast(dict[str, Any], message)
            return None
        return self._schedule(_Job(message, frame.attachment))

    def _refuse_handshake_order(self, message: dict[str, Any]) -> None:
        """-32002: a request other than ``handshake`` before a successful one, or a second ``handshake``."""
        if self._session.version is None:
            text, reason = "Handshake required", "the first request must be handshake"
        else:
            text, reason = "Handshake already done", "handshake already done"
        self._refuse(message, codes.NOT_INITIALIZED, text, protocol_data(self._name, reason))

    def _serve_inline(self, message: dict[str, Any], frame: Frame) -> None:
        call = Call(frame.attachment)
        reply = self._dispatcher.dispatch_valid(message, call)
        if reply is not None:
            self._send(reply, call.reply_attachment, message.get("id"))

    def _refuse(self, message: dict[str, Any], code: int, text: str, data: dict[str, Any]) -> None:
        if "id" in message:
            self._send(self._dispatcher.error(message["id"], code, text, data))

    def _schedule(self, job: _Job) -> Callable[[], None] | None:
        """Send ``job`` where it runs: its stream's queue, the pool's queue, or the reader's thread (the work to run
        there is returned: a lone request, or one naming a stream with no other request queued or running).

        Waits (and so reads no further) while the requests in flight hold the whole byte budget, or while the
        admission bound is reached by requests queued for the pool or naming a stream (other than the
        ``stream.read``/``stream.write`` that ``stream_window`` bounds).
        """
        self._budget.take(job.bytes)
        with self._lock:
            self._active += 1
            if job.has_id:
                self._queued[job.id] = job
            relief = self._pool_tasks < self._threads  # a thread is free to relieve the reader
            alone = relief and self._active == 1
        here = alone and self._reader.drained()
        if job.method.startswith("stream."):
            if job.method == "stream.cancel":  # stop at once; the answer still comes in the stream's order
                self._streams.cancelling(job.stream)
            counted = job.method in _COUNTED
            with self._lock:
                job.counted = counted
            if not counted:
                self._admit(job)
            here = here or (relief and job.method == "stream.cancel")
            routed = self._streams.route(job.stream, lambda: self._run(job), counted=counted, here=here)
            if callable(routed):
                return routed
            if routed:
                return None
            with self._lock:
                job.counted = False
            if routed is False:
                self._forget(job)
                error = ProtocolError(f"stream window exceeded: stream {job.stream} has too many requests in flight")
                code, text, data = error_to_wire(error, self._name)
                self._refuse(job.message, code, text, data)
                self._streams.interrupt(job.stream, WriteStream)  # after the answer, which must come first
                return None
        if here:
            return lambda: self._run(job)
        self._admit(job)
        self._start_task(lambda: self._run_pooled(job))
        return None

    def _admit(self, job: _Job) -> None:
        """Take a place of the admission bound for ``job`` (once), waiting while none is free."""
        if not job.admitted:
            self._admission.acquire()
            job.admitted = True

    # -- running -----------------------------------------------------------------------------------------------

    def _run(self, job: _Job) -> None:
        with self._lock:
            cancelled = job.state == _CANCELLED
            job.state = _RUNNING
            if job.has_id and self._queued.get(job.id) is job:
                del self._queued[job.id]
        try:
            if not cancelled:
                self._answer(job)
        finally:
            self._forget(job)

    def _run_pooled(self, job: _Job) -> None:
        try:
            self._run(job)
        finally:
            self._end_task()

    def _answer(self, job: _Job) -> None:
        try:
            reply = self._dispatcher.dispatch_valid(job.message, job.call)
        except Exception:
            logger.exception("dispatching %s failed", job.method)
            reply = self._dispatcher.error(job.id, codes.INTERNAL_ERROR, "Internal error", internal_data(self._name))
        self._uncount(job)
        if reply is not None and job.has_id:
            self._send(reply, job.call.reply_attachment, job.id)

    def _uncount(self, job: _Job) -> None:
        """Release the job's place in its stream's window; done before the answer leaves, so the client's next
        request never finds the window still full."""
        with self._lock:
            counted, job.counted = job.counted, False
        if counted:
            self._streams.answered(job.stream)

    def _forget(self, job: _Job) -> None:
        with self._lock:
            if job.has_id and self._queued.get(job.id) is job:
                del self._queued[job.id]
            self._active -= 1
            if not self._active:
                self._idle.notify_all()
        if job.admitted:
            job.admitted = False
            self._admission.release()
        self._budget.give(job.bytes)
        job.bytes = 0

    def _cancel(self, request_id: object) -> None:
        """``$/cancel``: answer a still-queued request with -32800; a request naming a stream cancels the stream."""
        with self._lock:
            job = self._queued.get(request_id) if isinstance(request_id, (int, str)) else None
            if job is None or job.state != _QUEUED:
                return
            job.state = _CANCELLED
            del self._queued[request_id]
        self._uncount(job)
        data = {"type": "OperationCancelledError", "driver": self._name, "operation": job.method}
        self._send(self._dispatcher.error(job.id, codes.REQUEST_CANCELLED, f"{job.method} cancelled", data))
        if job.method.startswith("stream."):
            self._streams.interrupt(job.stream)

    # -- output ------------------------------------------------------------------------------------------------

    def _send(
        self, message: bytes, attachment: bytes | bytearray | memoryview = b"", request_id: object = None
    ) -> None:
        """Write one answer; an answer over the client's limits becomes error 1009. A broken output ends the session."""
        limits = self._session.client_limits
        if len(message) > limits.max_message_bytes or len(attachment) > limits.max_attachment_bytes:
            which = "message" if len(message) > limits.max_message_bytes else "attachment"
            size = len(message) if which == "message" else len(attachment)
            limit = limits.max_message_bytes if which == "message" else limits.max_attachment_bytes
            error = ProtocolError(f"answer {which} of {size} bytes exceeds the client's max_{which}_bytes ({limit})")
            code, text, data = error_to_wire(error, self._name)
            message, attachment = self._dispatcher.error(request_id, code, text, data), b""
        try:
            self._writer.write(message, attachment)
        except OSError as error:
            with self._lock:
                first = self._status is None
            if first:
                logger.error("the protocol output broke (%s); stopping", error)
            self._stop_with(EXIT_BROKEN)


__all__ = ["EXIT_BROKEN", "EXIT_FAILURE", "EXIT_OK", "Server"]
