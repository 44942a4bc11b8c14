"""ProxyDriver: a StorageDriver whose every method runs in a driver child process, over the protocol.

Callers cannot tell it from the driver in process: same methods, same results, same exception types with the same
fields. What only a proxy can raise: DriverExitedError (the child died; its exit status and stderr tail attached),
DeadlineExceededError (a call got no answer in time) and IncompatibleVersionError (at start).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Mapping
from io import BufferedIOBase
from typing import Any

from jsonrpcclient import Error

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import ProtocolError, StorageDriverError
from registry_storage.fileinfo import FileInfo
from registry_storage.observability import metrics
from registry_storage.wire.errors import PROTOCOL_STATE_ERROR
from registry_storage.wire.values import fileinfo_from_wire

from .connection import Attachment, Connection
from .options import ProxyOptions
from .session import Session
from .streams import ProxyReadStream, write_chunks


def _detach(box: list[Session]) -> None:
    box[0].detach()


def _member(result: object, name: str, kind: type, driver: str) -> Any:
    value = result.get(name) if isinstance(result, dict) else None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ProtocolError(f"malformed answer {result!r}: expected {name!r} of type {kind.__name__}", driver=driver)
    return value


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

    def _call(self, method: str, params: Mapping[str, Any], attachment: Attachment = b"") -> Any:
        result, _ = self._connection().call(method, params, attachment)
        return result

    def ping(self) -> None:
        """Check that the driver answers; raises DriverExitedError or DeadlineExceededError when it does not."""
        self._call("ping", {})

    def driver_metrics(self) -> str:
        """The child's own metrics in the Prometheus text format ("" when it has none: no ``metrics`` capability).

        Every scrape of this process's ``prometheus_client.REGISTRY`` includes them, labelled ``process="child"``.
        Raises DriverExitedError or DeadlineExceededError (after ``options.stop_timeout``) when the child is gone.
        """
        if self._closed or not self.session.info.can("metrics"):
            return ""
        result, _ = self.session.connection.call("metrics", {}, timeout=self.options.stop_timeout)
        text: str = _member(result, "text", str, self.name)
        return text

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
        response, attachment = connection.wait(connection.submit("get_content", {"path": path}))
        if isinstance(response, Error):
            if response.code == PROTOCOL_STATE_ERROR:  # over the attachment limit: stream it instead
                with self._read_stream(path, 0) as stream:
                    return stream.read()
            raise connection.error_from(response)
        size = _member(response.result, "size", int, self.name)
        if size != len(attachment):
            raise ProtocolError(f"get_content announced {size} bytes but sent {len(attachment)}", driver=self.name)
        return bytes(attachment)

    def _put_content(self, path: str, content: bytes) -> None:
        connection = self._connection()
        limit = connection.peer_limits.max_attachment_bytes
        if len(content) > limit:
            raise StorageDriverError(
                f"put_content of {len(content)} bytes to {path} is over the driver's max_attachment_bytes ({limit});"
                " write content that large with write_stream",
                driver=self.name,
            )
        connection.call("put_content", {"path": path}, content)

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
        return fileinfo_from_wire(self._call("stat", {"path": path}))

    def _list(self, path: str) -> PathList:
        paths: list[Any] = _member(self._call("list", {"path": path}), "paths", list, self.name)
        if not all(isinstance(child, str) for child in paths):
            raise ProtocolError(f"list answered paths that are not all strings: {paths!r}", driver=self.name)
        return paths

    def _walk(self, path: str) -> Iterator[FileInfo]:
        if self.session.info.can("walk"):
            connection = self._connection()
            response, _ = connection.wait(connection.submit("walk", {"path": path}))
            if isinstance(response, Error) and response.code != PROTOCOL_STATE_ERROR:
                raise connection.error_from(response)
            if not isinstance(response, Error):
                entries: list[Any] = _member(response.result, "entries", list, self.name)
                return iter([fileinfo_from_wire(entry) for entry in entries])
            # the whole tree does not fit in one answer (over max_message_bytes): walk it by list and stat
        return super()._walk(path)

    def _move(self, source: str, destination: str) -> None:
        self._call("move", {"source": source, "destination": destination})

    def _delete(self, path: str) -> None:
        self._call("delete", {"path": path})

    def _url_for(self, path: str, **options: Any) -> str:
        url: str = _member(self._call("url_for", {"path": path, "options": options}), "url", str, self.name)
        return url

    def __repr__(self) -> str:
        return f"<ProxyDriver {self.name!r} pid={self.pid} executable={self.executable!r}>"
