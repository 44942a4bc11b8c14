"""One observation per public driver call: the span, the recorders (metrics, the CLI's summary), the driver name.

:func:`observe` is what :class:`~registry_storage.StorageDriver` wraps every public call in. While nothing observes
(no recorder installed and no tracer provider configured) it returns an :class:`Unobserved` context that only fills
in the driver name of a StorageDriverError leaving the block; the test for that is one attribute read. Otherwise an
:class:`ObservedCall` times the call, starts its span (made current, so a backend SDK's spans become its children),
tells every recorder, and marks the span failed with the error's type when the call raises.

A call that hands back a stream or an iterator (``read_stream``, ``walk``) keeps its span open until the stream is
closed or the iterator ends: :meth:`ObservedCall.stream` and :meth:`ObservedCall.entries` wrap them and count the
bytes and entries that pass.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, NamedTuple, Protocol

from registry_storage.errors import StorageDriverError
from registry_storage.fileinfo import FileInfo

from . import tracing

READ = "read"
WRITTEN = "written"
"""The two directions :meth:`Recorder.moved` counts bytes in."""


class Recorder(Protocol):
    """Something told about every driver call: the metrics, the CLI's ``--trace`` summary.

    Methods are called on the calling thread and must be thread-safe and quick; they must not raise.
    """

    def started(self, driver: str, action: str) -> None:
        """A call of ``action`` (the method name) on driver ``driver`` began."""

    def finished(self, driver: str, action: str, seconds: float, error: BaseException | None) -> None:
        """The call ended after ``seconds`` (of the call itself, not of a stream it returned), raising ``error``."""

    def moved(self, driver: str, direction: str, count: int) -> None:
        """``count`` bytes were read (``READ``) or written (``WRITTEN``) through driver ``driver``."""


class _Observers:
    """The installed recorders; ``active`` is True whenever a call must look further than the attribute itself."""

    __slots__ = ("_lock", "active", "recorders")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.recorders: tuple[Recorder, ...] = ()
        self.active = tracing.AVAILABLE

    def add(self, recorder: Recorder) -> None:
        with self._lock:
            if recorder not in self.recorders:
                self.recorders = (*self.recorders, recorder)
            self.active = True

    def remove(self, recorder: Recorder) -> None:
        with self._lock:
            self.recorders = tuple(known for known in self.recorders if known is not recorder)
            self.active = tracing.AVAILABLE or bool(self.recorders)


OBSERVERS = _Observers()


def add_recorder(recorder: Recorder) -> None:
    """Tell ``recorder`` about every driver call from now on (adding one twice adds it once)."""
    OBSERVERS.add(recorder)


def remove_recorder(recorder: Recorder) -> None:
    """Stop telling ``recorder``; removing one that is not installed does nothing."""
    OBSERVERS.remove(recorder)


class Unobserved:
    """The context of a call nobody observes: it fills in the driver name of a StorageDriverError, nothing more."""

    __slots__ = ("driver",)

    def __init__(self, driver: str) -> None:
        self.driver = driver

    def __enter__(self) -> Unobserved:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, StorageDriverError) and not exc.driver:
            exc.driver = self.driver

    def moved(self, direction: str, count: int) -> None:
        """Count ``count`` bytes moved by this call (here: nothing to count)."""

    def stream(self, stream: io.BufferedIOBase) -> io.BufferedIOBase:
        """The stream the call returns, observed until it is closed (here: ``stream`` itself)."""
        return stream

    def entries(self, entries: Iterator[FileInfo]) -> Iterator[FileInfo]:
        """The entries the call returns, observed until they end (here: ``entries`` itself)."""
        return entries


def observe(driver: str, action: str, **attributes: Any) -> Unobserved:
    """The context to run one call of ``action`` on driver ``driver`` in; ``attributes`` go on its span.

    Attribute names are short (``path``, ``destination``, ``offset``) and get the ``registry_storage.`` prefix.
    """
    if not OBSERVERS.active:
        return Unobserved(driver)
    recorders = OBSERVERS.recorders
    span = None
    if tracing.provider_configured():
        span = tracing.start_span(
            f"registry_storage.{action}",
            {
                "registry_storage.driver": driver,
                **{f"registry_storage.{key}": value for key, value in attributes.items()},
            },
        )
    if span is None and not recorders:
        return Unobserved(driver)
    return ObservedCall(driver, action, span, recorders)


class ObservedCall(Unobserved):
    """A call that is timed, traced and recorded; see :func:`observe`."""

    __slots__ = ("_deferred", "_span", "_started", "_token", "action", "recorders")

    def __init__(self, driver: str, action: str, span: Any, recorders: tuple[Recorder, ...]) -> None:
        super().__init__(driver)
        self.action = action
        self.recorders = recorders
        self._span = span
        self._token: object = None
        self._deferred = False
        self._started = 0.0

    def __enter__(self) -> ObservedCall:
        if self._span is not None:
            self._token = tracing.activate(self._span)
        for recorder in self.recorders:
            recorder.started(self.driver, self.action)
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        seconds = time.perf_counter() - self._started
        super().__exit__(exc_type, exc, traceback)
        for recorder in self.recorders:
            recorder.finished(self.driver, self.action, seconds, exc)
        span = self._span
        if span is not None:
            tracing.deactivate(self._token)
            if exc is not None:
                tracing.fail(span, exc)
            if exc is not None or not self._deferred:
                span.end()

    def moved(self, direction: str, count: int) -> None:
        """Count ``count`` bytes moved by this call, on its span (``registry_storage.bytes``) and in the recorders."""
        if self._span is not None:
            self._span.set_attribute("registry_storage.bytes", count)
        for recorder in self.recorders:
            recorder.moved(self.driver, direction, count)

    def stream(self, stream: io.BufferedIOBase) -> io.BufferedIOBase:
        """``stream`` wrapped so the bytes read are counted and the span ends when it is closed."""
        self._deferred = True
        return ObservedReadStream(stream, self)

    def entries(self, entries: Iterator[FileInfo]) -> Iterator[FileInfo]:
        """``entries`` wrapped so they are counted and the span ends when they end (or are closed)."""
        self._deferred = True
        return self._counted(entries)

    def _counted(self, entries: Iterator[FileInfo]) -> Iterator[FileInfo]:
        count = 0
        ended = False
        try:
            for entry in entries:
                count += 1
                yield entry
        except Exception as error:  # no reference to it survives the block: no cycle keeps the walk's frame alive
            ended = True
            self.end(Failure.of(error), entries=count)
            raise
        finally:
            if not ended:
                self.end(None, entries=count)

    def end(self, failure: Failure | None = None, **counts: int) -> None:
        """End the deferred span of a stream or iterator, with its final ``counts`` and the ``failure`` that ended
        it."""
        span = self._span
        if span is None or not span.is_recording():
            return
        for key, value in counts.items():
            span.set_attribute(f"registry_storage.{key}", value)
        if failure is not None:
            tracing.fail_as(span, failure.type, failure.message)
        span.end()


class Failure(NamedTuple):
    """What a stream's or iterator's error was, kept without the exception (and so without its frames)."""

    type: str
    message: str

    @classmethod
    def of(cls, error: BaseException) -> Failure:
        """The type name and message of ``error``."""
        return cls(type(error).__name__, str(error))


def unwrap(stream: io.BufferedIOBase) -> io.BufferedIOBase:
    """The driver's own stream behind an observed one (``stream`` itself when it is not observed)."""
    return stream.wrapped if isinstance(stream, ObservedReadStream) else stream


class ObservedReadStream(io.BufferedIOBase):
    """A driver's read stream that counts the bytes read and ends its call's span when closed.

    Reads, seeks and ``fileno`` go to the wrapped stream; other attributes (a proxy stream's ``stream_id``) too.
    """

    def __init__(self, stream: io.BufferedIOBase, call: ObservedCall) -> None:
        super().__init__()
        self.wrapped = stream
        self._call = call
        self._count = 0
        self._failure: Failure | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name == "wrapped":  # not set yet (during construction): never recurse
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def _counting(self, data: bytes) -> bytes:
        self._count += len(data)
        return data

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._counting(self.wrapped.read(size))
        except Exception as error:
            self._failure = Failure.of(error)
            raise

    def read1(self, size: int = -1) -> bytes:
        try:
            return self._counting(self.wrapped.read1(size))
        except Exception as error:
            self._failure = Failure.of(error)
            raise

    def readinto(self, buffer: Any) -> int:
        try:
            count = self.wrapped.readinto(buffer)
        except Exception as error:
            self._failure = Failure.of(error)
            raise
        self._count += count
        return count

    def readinto1(self, buffer: Any) -> int:
        try:
            count = self.wrapped.readinto1(buffer)
        except Exception as error:
            self._failure = Failure.of(error)
            raise
        self._count += count
        return count

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.wrapped.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.wrapped.seek(offset, whence)

    def tell(self) -> int:
        return self.wrapped.tell()

    def fileno(self) -> int:
        return self.wrapped.fileno()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self.wrapped.close()
            finally:
                super().close()
                self._call.moved(READ, self._count)
                self._call.end(self._failure)


__all__ = [
    "OBSERVERS",
    "READ",
    "WRITTEN",
    "Failure",
    "ObservedCall",
    "ObservedReadStream",
    "Recorder",
    "Unobserved",
    "add_recorder",
    "observe",
    "remove_recorder",
    "unwrap",
]
