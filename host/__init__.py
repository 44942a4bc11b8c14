"""Serve any StorageDriver over the registry-storage protocol on stdin/stdout (protocol.md).

>>> from registry_storage.host import serve          # doctest: +SKIP
>>> raise SystemExit(serve(MyDriver()))              # doctest: +SKIP

:func:`serve` is the whole host; :mod:`registry_storage.host.executable` is the ``registry-storage-<name>`` program
built on it. The modules: ``channel`` (frames in and out of file descriptors), ``methods`` (the JSON-RPC methods),
``streams`` (open streams and their workers), ``server`` (one session), ``lifecycle`` (stdio, logs, signals,
parent death).
"""

from __future__ import annotations

from registry_storage.driver import StorageDriver
from registry_storage.wire import PROTOCOL_VERSION, FrameDecoder, Limits

from .channel import FrameReader, FrameWriter, enlarge_pipe
from .lifecycle import Watchdog, configure_logging, protect_stdio

DEFAULT_WORKERS = 8


def serve(
    driver: StorageDriver,
    *,
    stdin_fd: int = 0,
    stdout_fd: int = 1,
    limits: Limits | None = None,
    workers: int = DEFAULT_WORKERS,
    grace: float = 10.0,
    watch: bool | None = None,
    protocol_version: str = PROTOCOL_VERSION,
) -> int:
    """Serve ``driver`` over the protocol, reading frames from ``stdin_fd`` and writing them to ``stdout_fd``.

    Returns the exit status of protocol.md section 10: 0 after ``shutdown`` or at end of input, 3 when the output
    broke, 128 + N after signal N, 1 after an unexpected failure of the host itself. The driver is closed before it
    returns. ``limits`` are the receive limits announced in the handshake (defaults: protocol.md section 12);
    ``workers`` the threads serving ordinary requests; ``grace`` the seconds the end of the session waits for answers
    still pending; ``protocol_version`` the highest version the host offers (an older minor serves clients as a
    driver written for that version would, which the cross-version tests rely on).

    On the process's own stdin/stdout (the defaults) the host first moves the protocol to private descriptors and
    points fd 1 at stderr (:func:`~registry_storage.host.lifecycle.protect_stdio`). ``watch`` (default: on the
    process's own stdio) ends the session on SIGTERM/SIGINT and when the parent process dies. Log records go to
    stderr as ``LEVEL logger: message`` unless logging was configured before.
    """
    from .server import Server  # noqa: PLC0415 - imports jsonrpcserver only when a session really starts

    configure_logging()
    own_stdio = stdin_fd == 0 and stdout_fd == 1
    if own_stdio:
        stdin_fd, stdout_fd = protect_stdio()
    for fd in (stdin_fd, stdout_fd):
        enlarge_pipe(fd)
    limits = limits or Limits()
    reader = FrameReader(stdin_fd, FrameDecoder(limits.max_message_bytes, limits.max_attachment_bytes))
    server = Server(
        driver,
        reader,
        FrameWriter(stdout_fd),
        limits=limits,
        workers=workers,
        grace=grace,
        protocol_version=protocol_version,
    )
    watchdog = Watchdog(server.stop) if (own_stdio if watch is None else watch) else None
    if watchdog is not None:
        watchdog.start()
    try:
        return server.run()
    finally:
        if watchdog is not None:
            watchdog.close()
        reader.close()


__all__ = ["serve"]
