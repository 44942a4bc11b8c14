"""What every proxy method does on the wire, written once as programs that the sync and async edges run.

A program is a generator: it yields the instructions it needs (:class:`Send` a request, :class:`Receive` its
answer, :class:`Drop` it, :class:`Pull` the next chunk of a write's source, :class:`Emit` a walk entry) and
receives their results; an edge's failure (DeadlineExceededError, DriverExitedError, the source's own error) is
thrown into it at the yield. It returns the method's result. Programs hold the protocol logic above single calls:
how ``get_content`` falls back to a stream, how ``walk`` falls back to ``list`` and ``stat``, how read streams
pull with a widening window and write streams push within theirs, how streams are cancelled. They never block and
never touch I/O, so the threaded proxy runs them with threads and the asyncio proxy with coroutines.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar, Union

from jsonrpcclient import Error, Ok

from registry_storage import __version__
from registry_storage.errors import (
    DeadlineExceededError,
    DriverExitedError,
    IncompatibleVersionError,
    InvalidParameterError,
    PathNotFoundError,
    ProtocolError,
    StorageDriverError,
)
from registry_storage.fileinfo import FileInfo
from registry_storage.walkorder import Step, is_after, step
from registry_storage.wire.errors import PROTOCOL_STATE_ERROR
from registry_storage.wire.handshake import IMPLEMENTATION, Limits, accepts_chosen, parse_version
from registry_storage.wire.startup import startup_error_in
from registry_storage.wire.values import fileinfo_from_wire

from .core import Attachment, ClientCore

T = TypeVar("T")
PAGED_VERSION = "1.1"
"""The protocol version from which ``list`` and ``walk`` answer in pages and ``put_content.open`` exists."""
OPENS_WITH_DATA = (1, 2)
"""The protocol version from which a stream's ``*.open`` carries its first chunk (and a write may close at once)."""
READ_AHEAD_FIRST = 16 << 10
"""Bytes a read stream asks for with its open: a small ranged read costs one round trip and pulls no megabytes (a
4 KiB read at an offset took 2.3 stat round trips with 64 KiB here, 2.0 with 16 KiB; a long read pays one more
round trip, under 0.5 ms, before it moves whole chunks)."""
READ_AHEAD_GROWTH = 4
"""Each ``stream.read`` of a stream asks this many times the bytes of the one before, up to the chunk size."""
EXIT_USAGE = 2
"""The exit status of a driver started with bad parameters (protocol.md section 10)."""
Answer = tuple[Union[Ok, Error], Union[bytes, bytearray]]


class Send(NamedTuple):
    """Send a request; the edge answers with a ticket for :class:`Receive` or :class:`Drop`."""

    method: str
    params: Mapping[str, Any]
    attachment: Attachment = b""
    timeout: float | None = None


class Receive(NamedTuple):
    """Wait for the answer to ``ticket`` until its deadline; the edge answers ``(response, attachment)``."""

    ticket: Any


class Drop(NamedTuple):
    """Stop waiting for ``ticket``: a late answer is ignored."""

    ticket: Any


class Pull(NamedTuple):
    """The next chunk of the write's source (``b""`` at its end)."""


class Emit(NamedTuple):
    """Hand ``value`` to whoever iterates the program (a walk entry)."""

    value: Any


Instruction = Union[Send, Receive, Drop, Pull, Emit]
"""What a program yields; named tuples, because a call builds two of them (a frozen dataclass costs 3x as much)."""
Program = Generator[Instruction, Any, T]


# -- single calls ------------------------------------------------------------------------------------------------


def answer(
    method: str, params: Mapping[str, Any], attachment: Attachment = b"", timeout: float | None = None
) -> Program[Answer]:
    """Send one request and receive its answer (Ok or Error) and attachment."""
    ticket = yield Send(method, params, attachment, timeout)
    response: Answer = yield Receive(ticket)
    return response


def call(
    core: ClientCore[Any],
    method: str,
    params: Mapping[str, Any],
    attachment: Attachment = b"",
    timeout: float | None = None,
) -> Program[tuple[Any, bytes | bytearray]]:
    """One request: its result and attachment, or the driver's error rebuilt (same type, same fields)."""
    response, data = yield from answer(method, params, attachment, timeout)
    if isinstance(response, Error):
        raise core.error_from(response)
    return response.result, data


def member(result: object, name: str, kind: type, driver: str) -> Any:
    """``result[name]``, checked to be of ``kind``; ProtocolError otherwise."""
    value = result.get(name) if isinstance(result, dict) else None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ProtocolError(f"malformed answer {result!r}: expected {name!r} of type {kind.__name__}", driver=driver)
    return value


# -- the handshake -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriverInfo:
    """What the driver said about itself in the handshake (protocol.md section 5)."""

    name: str
    protocol_version: str
    implementation: str = ""
    version: str = ""
    capabilities: Mapping[str, bool] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    def can(self, capability: str) -> bool:
        """True when the driver announced ``capability`` (a missing flag means false)."""
        return self.capabilities.get(capability) is True

    def speaks(self, version: str) -> bool:
        """True when the chosen protocol version is ``version`` (``"major.minor"``) or a later minor of it."""
        chosen, wanted = parse_version(self.protocol_version), parse_version(version)
        return chosen is not None and wanted is not None and chosen[0] == wanted[0] and chosen[1] >= wanted[1]

    @property
    def paged(self) -> bool:
        """True when listings come in pages and ``put_content.open`` exists (protocol 1.1 and later)."""
        return self.speaks(PAGED_VERSION)


def startup_failure(exited: DriverExitedError, name: str) -> StorageDriverError:
    """The error to raise for a driver that exited before its handshake: the InvalidParameterError its start-up
    failure line names (protocol.md section 2) when it exited with status 2 (raise it from ``exited``); else
    ``exited``."""
    typed = startup_error_in(exited.stderr_tail, name)
    if isinstance(typed, InvalidParameterError) and exited.returncode == EXIT_USAGE:
        return typed
    return exited


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def handshake(core: ClientCore[Any], offered: Sequence[str], fallback_name: str, timeout: float) -> Program[DriverInfo]:
    """Offer ``offered``, re-check the driver's choice and learn its name, capabilities and limits.

    On success the core takes the driver's name, its limits and the chosen version. Raises IncompatibleVersionError
    when the driver finds no common version (error 1008) or chooses one the client does not speak, ProtocolError for
    a malformed answer, and DriverExitedError or DeadlineExceededError when the driver dies or stays silent.
    """
    versions = list(offered)
    params = {
        "versions": versions,
        "client": {"name": IMPLEMENTATION, "version": __version__},
        "limits": core.limits.to_wire(),
    }
    result, _ = yield from call(core, "handshake", params, timeout=timeout)
    if not isinstance(result, dict):
        raise ProtocolError(f"handshake answered {type(result).__name__}, expected an object", driver=fallback_name)
    announced = result.get("driver")
    driver: dict[str, Any] = announced if isinstance(announced, dict) else {}
    name = _text(driver.get("name")) or fallback_name
    chosen = result.get("version")
    if not accepts_chosen(chosen, versions):
        raise IncompatibleVersionError(versions, chosen if isinstance(chosen, str) else None, driver=name)
    capabilities = result.get("capabilities")
    info = DriverInfo(
        name=name,
        protocol_version=str(chosen),
        implementation=_text(driver.get("implementation")),
        version=_text(driver.get("version")),
        capabilities={str(key): value is True for key, value in capabilities.items()}
        if isinstance(capabilities, dict)
        else {},
        limits=Limits.from_wire(result.get("limits")),
    )
    core.driver, core.peer_limits = name, info.limits
    core.version = parse_version(info.protocol_version) or (1, 0)
    return info


# -- the methods -------------------------------------------------------------------------------------------------


def stat(core: ClientCore[Any], path: str) -> Program[FileInfo]:
    result, _ = yield from call(core, "stat", {"path": path})
    return fileinfo_from_wire(result)


def _page_cursor(result: object, driver: str) -> str | None:
    """The ``cursor`` of a page (protocol 1.1): a string when more pages follow, absent or null at the end."""
    cursor = result.get("cursor") if isinstance(result, dict) else None
    if cursor is not None and not isinstance(cursor, str):
        raise ProtocolError(f"malformed page {result!r}: cursor must be a string or null", driver=driver)
    return cursor


def _strings(core: ClientCore[Any], result: object) -> list[str]:
    paths: list[Any] = member(result, "paths", list, core.driver)
    if not all(isinstance(child, str) for child in paths):
        raise ProtocolError(f"list answered paths that are not all strings: {paths!r}", driver=core.driver)
    return paths


def list_paths(core: ClientCore[Any], path: str, *, paged: bool) -> Program[list[str]]:
    """The children of ``path``: the one place a listing is fetched; with ``paged`` (1.1), page after page."""
    result, _ = yield from call(core, "list", {"path": path})
    children = _strings(core, result)
    while paged and (cursor := _page_cursor(result, core.driver)) is not None:
        result, _ = yield from call(core, "list", {"path": path, "cursor": cursor})
        children += _strings(core, result)
    return children


def walk(
    core: ClientCore[Any], path: str, start_after: str | None = None, *, driver_walks: bool, paged: bool
) -> Program[None]:
    """Emit every descendant of ``path`` in walk order, after ``start_after`` when it is given.

    With ``paged`` (1.1) the driver's walk comes page by page, the next page asked for while this one is consumed
    (so at most two are held, and one left early is dropped); in 1.0 the driver's ``walk`` when it has one and the
    tree fits in one answer, else derived from ``list`` and ``stat`` (entries removed meanwhile are skipped).
    Raises PathNotFoundError before emitting anything when ``path`` is missing or a file.
    """
    if paged:
        params: dict[str, Any] = {"path": path}
        if start_after is not None:
            params["start_after"] = start_after
        result, _ = yield from call(core, "walk", params)
        while True:
            entries: list[Any] = member(result, "entries", list, core.driver)
            cursor = _page_cursor(result, core.driver)
            ticket = None if cursor is None else (yield Send("walk", {"path": path, "cursor": cursor}))
            try:
                for entry in entries:
                    yield Emit(fileinfo_from_wire(entry))
            except BaseException:
                if ticket is not None:
                    yield Drop(ticket)
                raise
            if ticket is None:
                return
            response, _ = yield Receive(ticket)
            if isinstance(response, Error):
                raise core.error_from(response)
            result = response.result
    if driver_walks:
        response, _ = yield from answer("walk", {"path": path})
        if isinstance(response, Error) and response.code != PROTOCOL_STATE_ERROR:
            raise core.error_from(response)
        if isinstance(response, Ok):
            entries = member(response.result, "entries", list, core.driver)
            for info in [fileinfo_from_wire(entry) for entry in entries]:
                if is_after(info.path, start_after):
                    yield Emit(info)
            return
        # the whole tree does not fit in one answer (over max_message_bytes): walk it by list and stat
    children = yield from list_paths(core, path, paged=False)
    yield from _walk_children(core, children, start_after)


def _walk_children(core: ClientCore[Any], children: list[str], start_after: str | None) -> Program[None]:
    for child in children:
        where = step(child, start_after)
        if where is Step.SKIP:
            continue  # the whole subtree comes before the hint
        try:
            info = yield from stat(core, child)
        except PathNotFoundError:
            continue  # removed while walking
        if where is Step.YIELD:
            yield Emit(info)
        if info.is_dir:
            try:
                grandchildren = yield from list_paths(core, child, paged=False)
            except PathNotFoundError:
                continue
            yield from _walk_children(core, grandchildren, None if where is Step.YIELD else start_after)


def get_content(core: ClientCore[Any], path: str, chunk_bytes: int, cancel_timeout: float) -> Program[bytes]:
    """The whole content; over the attachment limit (1009) it is streamed instead."""
    response, attachment = yield from answer("get_content", {"path": path})
    if isinstance(response, Error):
        if response.code != PROTOCOL_STATE_ERROR:
            raise core.error_from(response)
        reader = yield from ReadPuller.open(core, path, 0, chunk_bytes=chunk_bytes, cancel_timeout=cancel_timeout)
        parts: list[bytes | bytearray] = []
        while (chunk := (yield from reader.next_chunk())) is not None:
            parts.append(chunk)
        return b"".join(parts)
    size = member(response.result, "size", int, core.driver)
    if size != len(attachment):
        raise ProtocolError(f"get_content announced {size} bytes but sent {len(attachment)}", driver=core.driver)
    return bytes(attachment)


def put_content(
    core: ClientCore[Any], path: str, content: bytes, *, paged: bool, chunk_bytes: int, cancel_timeout: float
) -> Program[None]:
    """Store ``content``: in one request up to the driver's ``max_attachment_bytes``; above it, with ``paged``
    (1.1), as a put stream of the source's chunks (:class:`Pull`), replaced atomically at its close."""
    limit = core.peer_limits.max_attachment_bytes
    if len(content) <= limit:
        yield from call(core, "put_content", {"path": path}, content)
        return
    if not paged:
        raise StorageDriverError(
            f"put_content of {len(content)} bytes to {path} is over the driver's max_attachment_bytes ({limit})"
            " and protocol 1.0 has no put stream; write it with write_stream",
            driver=core.driver,
        )
    yield from write_stream(core, path, None, chunk_bytes=chunk_bytes, cancel_timeout=cancel_timeout)


def move(core: ClientCore[Any], source: str, destination: str) -> Program[None]:
    yield from call(core, "move", {"source": source, "destination": destination})


def delete(core: ClientCore[Any], path: str) -> Program[None]:
    yield from call(core, "delete", {"path": path})


def url_for(core: ClientCore[Any], path: str, options: Mapping[str, Any]) -> Program[str]:
    result, _ = yield from call(core, "url_for", {"path": path, "options": dict(options)})
    url: str = member(result, "url", str, core.driver)
    return url


def driver_metrics(core: ClientCore[Any], timeout: float) -> Program[str]:
    """The driver's own metrics in the Prometheus text format (the ``metrics`` method)."""
    result, _ = yield from call(core, "metrics", {}, timeout=timeout)
    text: str = member(result, "text", str, core.driver)
    return text


def ping(core: ClientCore[Any]) -> Program[None]:
    yield from call(core, "ping", {})


def shutdown(core: ClientCore[Any], timeout: float) -> Program[None]:
    """Ask the driver to finish and exit; errors are dropped (the stop sequence goes on regardless)."""
    if core.failure is None:
        with contextlib.suppress(StorageDriverError):
            yield from call(core, "shutdown", {}, timeout=timeout)


# -- streams -----------------------------------------------------------------------------------------------------


def stream_id(result: object, driver: str) -> int:
    stream = result.get("stream") if isinstance(result, dict) else None
    if not isinstance(stream, int) or isinstance(stream, bool):
        raise ProtocolError(f"a stream was opened without an integer stream id: {result!r}", driver=driver)
    return stream


def cancel_stream(core: ClientCore[Any], stream: int, timeout: float) -> Program[None]:
    """Send ``stream.cancel`` and wait up to ``timeout`` for its answer; errors are dropped (the stream is being
    given up anyway)."""
    if core.failure is not None:
        return
    with contextlib.suppress(StorageDriverError):
        yield from call(core, "stream.cancel", {"stream": stream}, timeout=timeout)


class ReadPuller:
    """The pulling side of one read stream (protocol.md section 7), without the buffering a file-like adds.

    Read-ahead starts small and grows: in 1.2 the open itself answers the first ``READ_AHEAD_FIRST`` bytes, and each
    ``stream.read`` after it asks ``READ_AHEAD_GROWTH`` times more, up to the chunk size, so a small ranged read
    costs one round trip and moves no megabytes while a long one soon moves whole chunks. Up to ``stream_window``
    reads are in flight, starting with one and widening as chunks arrive, so the pipe never idles. Not thread-safe:
    the edge's stream serialises its reads.
    """

    def __init__(
        self,
        core: ClientCore[Any],
        stream: int,
        *,
        chunk_bytes: int,
        cancel_timeout: float,
        first: bytes | bytearray = b"",
        at_end: bool = False,
        size: int | None = None,
    ) -> None:
        self.core = core
        self.stream = stream
        self.chunk_bytes = min(chunk_bytes, core.peer_limits.max_chunk_bytes)
        self.window = max(1, core.peer_limits.stream_window)
        self.cancel_timeout = cancel_timeout
        self.at_end = at_end
        self.error: BaseException | None = None
        self._first = first
        self._in_flight: deque[Any] = deque()
        self._received = 1 if size is not None else 0
        self._size = self.chunk_bytes if size is None else size
        """The ``size`` of the last ``stream.read`` asked for (or of the open's first chunk)."""

    @classmethod
    def open(
        cls, core: ClientCore[Any], path: str, offset: int, *, chunk_bytes: int, cancel_timeout: float
    ) -> Program[ReadPuller]:
        """Open ``path`` at ``offset`` on the driver; raises its error (PathNotFoundError...) at once."""
        params: dict[str, Any] = {"path": path, "offset": offset}
        size = None
        if core.speaks(OPENS_WITH_DATA):
            size = params["size"] = min(READ_AHEAD_FIRST, chunk_bytes, core.peer_limits.max_chunk_bytes)
        result, first = yield from call(core, "read_stream.open", params)
        stream = stream_id(result, core.driver)
        at_end = size is not None and isinstance(result, dict) and result.get("eof") is True
        return cls(
            core, stream, chunk_bytes=chunk_bytes, cancel_timeout=cancel_timeout, first=first, at_end=at_end, size=size
        )

    def _top_up(self) -> Program[None]:
        wanted = min(self.window, self._received + 1)
        while len(self._in_flight) < wanted:
            self._size = min(self.chunk_bytes, self._size * READ_AHEAD_GROWTH)
            params = {"stream": self.stream, "size": self._size}
            self._in_flight.append((yield Send("stream.read", params)))

    def next_chunk(self) -> Program[bytes | bytearray | None]:
        """The next non-empty chunk, or None at the end; after a failure, that failure again."""
        if self.error is not None:
            raise self.error
        if self._first:
            first, self._first = self._first, b""
            return first
        while not self.at_end:
            try:
                yield from self._top_up()
                answered: Answer = yield Receive(self._in_flight.popleft())
                response, attachment = answered
                if isinstance(response, Error):
                    raise self.core.error_from(response)
            except BaseException as error:
                yield from self._give_up(error)
                raise
            self._received += 1
            if isinstance(response.result, dict) and response.result.get("eof") is True:
                self.at_end = True
                yield from self._drop_in_flight()
            else:
                with contextlib.suppress(StorageDriverError):  # a failure here shows at the next Receive
                    yield from self._top_up()
            if attachment:
                return attachment
        return None

    def _drop_in_flight(self) -> Program[None]:
        while self._in_flight:
            yield Drop(self._in_flight.popleft())

    def _give_up(self, error: BaseException) -> Program[None]:
        self.error = error
        yield from self._drop_in_flight()
        if not self.at_end and not isinstance(error, DriverExitedError) and self.core.failure is None:
            if isinstance(error, DeadlineExceededError):  # the driver may hang: release the stream, do not wait
                yield from self._cancel_unawaited()
            else:
                yield from cancel_stream(self.core, self.stream, self.cancel_timeout)
        self.at_end = True

    def _cancel_unawaited(self) -> Program[None]:
        with contextlib.suppress(StorageDriverError):
            yield Drop((yield Send("stream.cancel", {"stream": self.stream}, timeout=self.cancel_timeout)))

    def close(self) -> Program[None]:
        """End the stream; before its end, cancel it on the driver without waiting for the answer (a read stream
        changes nothing, and the driver stops counting it against ``max_streams`` as soon as the cancel arrives)."""
        if not self.at_end:
            self.at_end = True
            self._first = b""
            yield from self._drop_in_flight()
            if self.core.failure is None:
                yield from self._cancel_unawaited()


class _Pieces:
    """A write's source cut into pieces of at most ``limit`` bytes, pulled (:class:`Pull`) as they are needed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._chunk: bytes | memoryview = b""
        self._start = 0

    def next(self) -> Program[bytes | memoryview]:
        """The next piece, ``b""`` at the end of the source."""
        while self._start >= len(self._chunk):
            chunk = yield Pull()
            if not chunk:
                return b""
            self._chunk = memoryview(chunk) if len(chunk) > self.limit else chunk
            self._start = 0
        start = self._start
        self._start = min(len(self._chunk), start + self.limit)
        if start == 0 and self._start == len(self._chunk):
            return self._chunk
        return self._chunk[start : self._start]


def write_stream(
    core: ClientCore[Any], path: str, offset: int | None, *, chunk_bytes: int, cancel_timeout: float
) -> Program[int]:
    """Write every chunk the source gives (:class:`Pull`) to ``path`` at ``offset``; return the bytes written.

    With ``offset`` None the stream is a put stream (``put_content.open``, protocol 1.1): the driver replaces the
    whole content atomically when the stream is closed, and a cancelled put changes nothing.

    Chunks are split to at most ``chunk_bytes`` (and the driver's ``max_chunk_bytes``); at most ``stream_window``
    ``stream.write`` requests are unanswered at once. In 1.2 a source of one piece is written whole by the open
    itself (``close: true``; the source is read one piece ahead to know); a longer one opens empty, because a first
    piece riding on an open given up before its answer (a cancelled task) could land after the caller resumed, with
    no stream id to cancel it by. If anything fails midway (the source raises, the driver answers an error, a
    deadline passes), the stream is cancelled with ``stream.cancel`` and the error propagates unchanged. The
    cancel's answer is awaited (up to ``cancel_timeout``, also after a deadline), so the driver has kept the base
    plus a prefix when this returns and a caller resuming at once sees the final size. A one-request write given up
    is cancelled with ``$/cancel`` like any single call (``put_content``): the driver drops it if it has not started
    yet, else writes the whole piece, and may still be writing when the caller resumes.
    """
    limits = core.peer_limits
    source = _Pieces(max(1, min(chunk_bytes, limits.max_chunk_bytes, limits.max_attachment_bytes)))
    method = "put_content.open" if offset is None else "write_stream.open"
    params: dict[str, Any] = {"path": path} if offset is None else {"path": path, "offset": offset}
    ahead: deque[bytes | memoryview] = deque()
    whole = False
    if core.speaks(OPENS_WITH_DATA):
        ahead.append((yield from source.next()))
        following = (yield from source.next()) if ahead[0] else b""
        if following:
            ahead.append(following)
        else:
            whole = params["close"] = True
    result, _ = yield from call(core, method, params, ahead.popleft() if whole else b"")
    if whole:
        return _written_total(core, result, method)
    stream = stream_id(result, core.driver)
    window = max(1, limits.stream_window)
    stream_params = {"stream": stream}
    in_flight: deque[Any] = deque()
    closing = False
    try:
        while piece := (ahead.popleft() if ahead else (yield from source.next())):
            if len(in_flight) >= window:
                yield from _written(core, in_flight.popleft())
            in_flight.append((yield Send("stream.write", stream_params, piece)))
        while in_flight:
            yield from _written(core, in_flight.popleft())
        closing = True
        result, _ = yield from call(core, "stream.close", stream_params)
    except BaseException as error:
        while in_flight:
            yield Drop(in_flight.popleft())
        # a close interrupted (its deadline passed, the task was cancelled) may still be writing: cancel it too, and
        # await the cancel, which the driver answers after the close, so the driver has settled when the caller
        # sees the error
        interrupted = isinstance(error, DeadlineExceededError) or not isinstance(error, Exception)
        unsettled = not closing or interrupted
        if unsettled and not isinstance(error, DriverExitedError):
            yield from cancel_stream(core, stream, cancel_timeout)
        raise
    return _written_total(core, result, "stream.close")


def _written_total(core: ClientCore[Any], result: object, method: str) -> int:
    """The ``written`` count a write's close answered; ProtocolError when it is missing."""
    written = result.get("written") if isinstance(result, dict) else None
    if not isinstance(written, int) or isinstance(written, bool):
        raise ProtocolError(f"{method} answered {result!r}, expected {{'written': n}}", driver=core.driver)
    return written


def _written(core: ClientCore[Any], ticket: Any) -> Program[None]:
    response, _ = yield Receive(ticket)
    if isinstance(response, Error):
        raise core.error_from(response)
