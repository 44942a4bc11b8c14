"""A tiny raw protocol client for tests: spawns a driver process and talks frames to it over real pipes.

It knows frames (through the wire codec) and JSON, nothing else: no retries, no checks, no proxy logic, so tests see
exactly what the host sends. Requests can be pipelined from many threads; answers are matched by id.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry_storage.wire import FrameDecoder, FrameError, dumps, encode_frame, loads

VENV_BIN = Path(sys.executable).parent
TIMEOUT = 30.0


def driver_command(name: str, parameters: dict[str, Any] | None = None) -> list[str]:
    """The command line of the installed executable ``registry-storage-<name>``."""
    command = [str(VENV_BIN / f"registry-storage-{name}")]
    if parameters is not None:
        command.append(dumps(parameters).decode())
    return command


@dataclass(frozen=True)
class Reply:
    """One frame from the host: the parsed JSON-RPC message and its attachment."""

    message: dict[str, Any]
    attachment: bytes = b""
    sequence: int = 0
    """The frame's position among every frame the host wrote (1 for the first)."""
    raw: bytes = b""
    """The message exactly as it travelled (JSON bytes)."""

    @property
    def result(self) -> Any:
        """The ``result`` member; raises AssertionError (showing the error) when the answer is an error."""
        assert "error" not in self.message, self.message
        return self.message["result"]

    @property
    def error(self) -> dict[str, Any]:
        """The ``error`` member; raises AssertionError when the answer is a success."""
        assert "error" in self.message, self.message
        error: dict[str, Any] = self.message["error"]
        return error


class RawClient:
    """A driver process on pipes, with a thread decoding everything it writes to stdout."""

    def __init__(self, command: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._stdin_fd = self.process.stdin.fileno()
        self._stdout_fd = self.process.stdout.fileno()
        self._send_lock = threading.Lock()
        self._replies = threading.Condition()
        self._expected: dict[object, Reply | None] = {}
        self._unclaimed: queue.Queue[Reply | FrameError | None] = queue.Queue()
        self._next_id = 1
        self._stderr_lines: list[str] = []
        self._stderr_changed = threading.Condition()
        self._stderr_done = threading.Event()
        self.stdout_closed = threading.Event()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # -- sending -----------------------------------------------------------------------------------------------

    def send_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Write raw bytes to the host's stdin."""
        with self._send_lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self._stdin_fd, view) :]

    def send(self, message: dict[str, Any], attachment: bytes = b"") -> None:
        """Write one frame holding ``message`` (and ``attachment``)."""
        self.send_bytes(b"".join(bytes(piece) for piece in encode_frame(dumps(message), attachment)))

    def new_id(self) -> int:
        """A request id not used before by this client."""
        with self._replies:
            request_id = self._next_id
            self._next_id += 1
            return request_id

    def start(self, method: str, params: Any = None, attachment: bytes = b"", *, request_id: int | None = None) -> int:
        """Send a request whose answer :meth:`result` collects; returns its id."""
        request_id = self.new_id() if request_id is None else request_id
        with self._replies:
            self._expected[request_id] = None
        self.send(
            {"jsonrpc": "2.0", "method": method, "params": {} if params is None else params, "id": request_id},
            attachment,
        )
        return request_id

    def start_raw(self, message: bytes, request_id: int, attachment: bytes = b"") -> int:
        """Send ``message``, JSON written by hand (for shapes a serializer refuses), carrying ``request_id``."""
        with self._replies:
            self._expected[request_id] = None
        self.send_bytes(b"".join(bytes(piece) for piece in encode_frame(message, attachment)))
        return request_id

    def result(self, request_id: object, timeout: float = TIMEOUT) -> Reply:
        """The answer to request ``request_id`` sent with :meth:`start`; AssertionError when none comes in time."""
        with self._replies:
            found = self._replies.wait_for(lambda: self._expected.get(request_id) is not None, timeout)
            assert found, f"no answer to request {request_id} within {timeout} s; stderr: {self.stderr_text()}"
            reply = self._expected.pop(request_id)
        assert reply is not None
        return reply

    def answered(self, request_id: object) -> bool:
        """True once the answer to request ``request_id`` (sent with :meth:`start`) has arrived."""
        with self._replies:
            return self._expected.get(request_id) is not None

    def call(self, method: str, params: Any = None, attachment: bytes = b"", timeout: float = TIMEOUT) -> Reply:
        """Send a request and wait for its answer."""
        return self.result(self.start(method, params, attachment), timeout)

    def notify(self, method: str, params: Any = None) -> None:
        """Send a notification (no id, no answer)."""
        self.send({"jsonrpc": "2.0", "method": method, "params": {} if params is None else params})

    def handshake(self, versions: list[str] | None = None, **extra: Any) -> Reply:
        """Send ``handshake`` offering ``versions`` (default ``["1.0"]``) and return the answer."""
        params = {"versions": versions or ["1.0"], "client": {"name": "rawclient", "version": "0"}, **extra}
        return self.call("handshake", params)

    # -- receiving ---------------------------------------------------------------------------------------------

    def next_reply(self, timeout: float = TIMEOUT) -> Reply:
        """The next frame not claimed by :meth:`start` (an answer with ``id`` null or sent with :meth:`send`)."""
        try:
            item = self._unclaimed.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no frame within {timeout} s; stderr: {self.stderr_text()}") from None
        assert isinstance(item, Reply), f"expected a frame, got {item!r}"
        return item

    def no_reply(self, timeout: float = 0.3) -> bool:
        """True when no unclaimed frame arrives within ``timeout`` seconds."""
        try:
            self._unclaimed.put(self._unclaimed.get(timeout=timeout))
        except queue.Empty:
            return True
        return False

    def _read_stdout(self) -> None:
        decoder = FrameDecoder(1 << 30, 1 << 30)
        sequence = 0
        try:
            while True:
                data = os.read(self._stdout_fd, 1 << 20)
                if not data:
                    break
                decoder.feed(data)
                while (event := decoder.next_event()) is not None:
                    if isinstance(event, FrameError):
                        self._unclaimed.put(event)
                        continue
                    sequence += 1
                    reply = Reply(loads(event.message), bytes(event.attachment), sequence, event.message)
                    with self._replies:
                        request_id = reply.message.get("id")
                        if request_id is not None and request_id in self._expected:
                            self._expected[request_id] = reply
                            self._replies.notify_all()
                            continue
                    self._unclaimed.put(reply)
        except OSError:
            pass
        finally:
            self.stdout_closed.set()
            self._unclaimed.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._stderr_changed:
                self._stderr_lines.append(line.decode(errors="replace").rstrip("\n"))
                self._stderr_changed.notify_all()
        self._stderr_done.set()

    # -- the process -------------------------------------------------------------------------------------------

    def stderr_lines(self, wait: bool = False) -> list[str]:
        """The stderr lines so far; with ``wait``, all of them once the process closed stderr."""
        if wait:
            self._stderr_done.wait(TIMEOUT)
        return list(self._stderr_lines)

    def wait_for_stderr(self, line: str, timeout: float = TIMEOUT) -> None:
        """Wait until the host has written ``line`` to stderr; AssertionError when it does not in time."""
        with self._stderr_changed:
            found = self._stderr_changed.wait_for(lambda: line in self._stderr_lines, timeout)
        assert found, f"stderr never showed {line!r}: {self.stderr_text()}"

    def stderr_text(self) -> str:
        return "\n".join(self._stderr_lines[-20:])

    def close_stdin(self) -> None:
        """Close the host's stdin (end of input)."""
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.close()

    def wait(self, timeout: float = TIMEOUT) -> int:
        """The exit status, waiting at most ``timeout`` seconds."""
        return self.process.wait(timeout)

    def high_water_rss(self) -> int:
        """The host's peak resident set size in bytes (VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("VmHWM not found")

    def kill(self) -> None:
        """Stop the process and everything in its process group, and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def finish(self) -> None:
        """End the session politely (close stdin, wait briefly), then kill whatever is left."""
        self.close_stdin()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.kill()


@contextlib.contextmanager
def running(command: Sequence[str], **kwargs: Any) -> Iterator[RawClient]:
    """A :class:`RawClient` that is always stopped afterwards."""
    client = RawClient(command, **kwargs)
    try:
        yield client
    finally:
        client.finish()


__all__ = ["TIMEOUT", "RawClient", "Reply", "driver_command", "running"]
