"""ProxyDriver: a StorageDriver whose every method runs in a driver child process, over the protocol.

Callers cannot tell it from the driver in process: same methods, same results, same exception types with the same
fields. What only a proxy can raise: DriverExitedError (the child died; its exit status and stderr tail attached),
DeadlineExceededError (a call got no answer in time) and IncompatibleVersionError (at start).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Iterator, Mapping
from io import BufferedIOBase
from typing import Any, TypeVar

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import StorageDriverError
from registry_storage.fileinfo import FileInfo
from registry_storage.observability import metrics

from . import calls
from .calls import Program
from .connection import Connection
from .options import ProxyOptions
from .session import Session
from .streams import ProxyReadStream, write_chunks

T = TypeVar("T")


def _detach(box: list[Session]) -> None:
    box[0].detach()


class ProxyDriver(StorageDriver):
    """The driver ``name`` running as the child ``executable`` with ``parameters`` (see :class:`ProxyOptions`).

    The child is started and shaken hands with at construction; the constructor raises what
    :meth:`Session.start <registry_storage.client.session.Session.start>` raises. ``name`` becomes the name the
    driver announced. Thread-safe: any number of threads and streams share the one child. :meth:`close` (or leaving
    the ``with`` block) stops the child; later calls raise StorageDriverError.
    """

    def __init__(
        self,
        executable: str,
        name: str,
        parameters: Mapping[str, Any] | None = None,
        options: ProxyOptions | None = None,
    ) -> None:
        self.executable = executable
        self._launch_name = name
        self.options = options or ProxyOptions()
        self._parameters = dict(parameters or {})
        self._lock = threading.Lock()
        self._closed = False
        session = Session.start(executable, name, self._parameters, self.options)
        self._box = [session]
        self._finalizer = weakref.finalize(self, _detach, self._box)
        self.name = session.info.name
        metrics.include_child(self)

    # -- sessions ------------------------------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The current child, its channel and its handshake (a new one after a restart)."""
        return self._box[0]

    @property
    def pid(self) -> int:
        """The process id of the current child."""
        return self.session.process.pid

    def _connection(self) -> Connection:
        """The channel for the next call: the current one, or a new child's if it died and ``restart`` is on."""
        session = self._box[0]
        if self._closed:
            raise StorageDriverError("the driver proxy is closed", driver=self.name)
        if session.alive or not self.options.restart:
            return session.connection
        with self._lock:
            if self._closed:
                raise StorageDriverError("the driver proxy is closed", driver=self.name)
            if self._box[0] is session:
                session.stop()
                self._box[0] = Session.start(self.executable, self._launch_name, self._parameters, self.options)
                metrics.count_restart(self.name)
            return self._box[0].connection

    def _run(self, program: Program[T]) -> T:
        return self._connection().run(program)

    def ping(self) -> None:
        """Check that the driver answers; raises DriverExitedError or DeadlineExceededError when it does not."""
        self._run(calls.ping(self._connection().core))

    def driver_metrics(self) -> str:
        """The child's own metrics in the Prometheus text format ("" when it has none: no ``metrics`` capability).

        Every scrape of this process's ``prometheus_client.REGISTRY`` includes them, labelled ``process="child"``.
        Raises DriverExitedError or DeadlineExceededError (after ``options.stop_timeout``) when the child is gone.
        """
        if self._closed or not self.session.info.can("metrics"):
            return ""
        connection = self.session.connection
        return connection.run(calls.driver_metrics(connection.core, self.options.stop_timeout))

    def __enter__(self) -> ProxyDriver:
        return self

    def close(self) -> None:
        """Stop the child: ``shutdown``, close stdin, SIGTERM, SIGKILL, each step with ``options.stop_timeout``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._finalizer.detach()
        self._box[0].stop()

    # -- StorageDriver -------------------------------------------------------------------------------------------

    def _get_content(self, path: str) -> bytes:
        connection = self._connection()
        options = self.options
        return connection.run(calls.get_content(connection.core, path, options.chunk_bytes, options.stop_timeout))

    def _put_content(self, path: str, content: bytes) -> None:
        connection = self._connection()
        options = self.options
        program = calls.put_content(
            connection.core,
            path,
            content,
            paged=self.session.info.paged,
            chunk_bytes=options.chunk_bytes,
            cancel_timeout=options.stop_timeout,
        )
        connection.run(program, source=iter((content,)))

    def _read_stream(self, path: str, offset: int) -> BufferedIOBase:
        return ProxyReadStream.open(
            self._connection(),
            path,
            offset,
            chunk_bytes=self.options.chunk_bytes,
            cancel_timeout=self.options.stop_timeout,
            owner=self,
        )

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        return write_chunks(
            self._connection(),
            path,
            offset,
            chunks,
            chunk_bytes=self.options.chunk_bytes,
            cancel_timeout=self.options.stop_timeout,
        )

    def _stat(self, path: str) -> FileInfo:
        connection = self._connection()
        return connection.run(calls.stat(connection.core, path))

    def _list(self, path: str) -> PathList:
        connection = self._connection()
        return connection.run(calls.list_paths(connection.core, path, paged=self.session.info.paged))

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        connection = self._connection()
        info = self.session.info
        program = calls.walk(connection.core, path, start_after, driver_walks=info.can("walk"), paged=info.paged)
        entries = connection.iterate(program)
        first = next(entries, None)  # errors about ``path`` itself are raised by the call, not at the first item
        if first is None:
            return iter(())
        return itertools.chain((first,), entries)

    def _move(self, source: str, destination: str) -> None:
        connection = self._connection()
        connection.run(calls.move(connection.core, source, destination))

    def _delete(self, path: str) -> None:
        connection = self._connection()
        connection.run(calls.delete(connection.core, path))

    def _url_for(self, path: str, **options: Any) -> str:
        connection = self._connection()
        return connection.run(calls.url_for(connection.core, path, options))

    def __repr__(self) -> str:
        return f"<ProxyDriver {self.name!r} pid={self.pid} executable={self.executable!r}>"
