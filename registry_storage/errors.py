"""The one error tree of registry-storage.

Every error a driver, the factory or the client proxy raises is a :class:`StorageDriverError`. Each error carries the
name of the driver that raised it (``driver``) and the fields that describe it (``path``, ``offset``...). The fields
are exactly the keyword arguments of the constructor, which is what lets the wire codec carry an error across the
protocol and rebuild it with the same type and the same fields (see :meth:`StorageDriverError.fields`).

Backend errors keep their cause: drivers raise ``StorageDriverError(...) from exc``. A transport or network failure
is never reported as :class:`PathNotFoundError`.
"""

from __future__ import annotations

import errno
from typing import Any


class StorageDriverError(Exception):
    """Base of every error raised by registry-storage.

    ``message`` says what went wrong; ``driver`` names the driver that raised it (filled in by the driver base class
    when the raising code left it empty).
    """

    def __init__(self, message: str = "", *, driver: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.driver = driver

    def fields(self) -> dict[str, Any]:
        """The type-specific fields, as keyword arguments that rebuild this error (``message`` and ``driver`` aside)."""
        return {}

    def __str__(self) -> str:
        return f"{self.driver}: {self.message}" if self.driver else self.message

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.fields().items())
        return f"{type(self).__name__}({args}{', ' if args else ''}driver={self.driver!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.driver, self.fields()))


def _rebuild(cls: type[StorageDriverError], message: str, driver: str, fields: dict[str, Any]) -> StorageDriverError:
    error = cls(**fields, driver=driver)
    error.message = message
    return error


class PathNotFoundError(StorageDriverError, FileNotFoundError):
    """No file (or directory, where one is accepted) exists at ``path``."""

    def __init__(self, path: str, *, driver: str = "") -> None:
        StorageDriverError.__init__(self, f"path not found: {path}", driver=driver)
        self.path = path
        self.errno = errno.ENOENT
        self.strerror = "path not found"
        self.filename = path

    def fields(self) -> dict[str, Any]:
        return {"path": self.path}

    __str__ = StorageDriverError.__str__


class InvalidPathError(StorageDriverError):
    """``path`` breaks the path rules (see :mod:`registry_storage.paths`); raised before storage is touched."""

    def __init__(self, path: object, reason: str = "invalid path", *, driver: str = "") -> None:
        super().__init__(f"invalid path {path!r}: {reason}", driver=driver)
        self.path = path
        self.reason = reason

    def fields(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


class InvalidOffsetError(StorageDriverError):
    """``offset`` is not a valid position for ``path`` (negative, or not an integer)."""

    def __init__(self, path: str, offset: object, *, driver: str = "") -> None:
        super().__init__(f"invalid offset {offset!r} for path {path}", driver=driver)
        self.path = path
        self.offset = offset

    def fields(self) -> dict[str, Any]:
        return {"path": self.path, "offset": self.offset}


class PathConflictError(StorageDriverError):
    """The operation conflicts with what is at ``path``: a directory where a file is needed, or the reverse.

    Raised before anything changes, for example when moving a directory, moving onto a directory, or writing a file
    below an existing file.
    """

    def __init__(self, path: str, reason: str, *, driver: str = "") -> None:
        super().__init__(f"{reason}: {path}", driver=driver)
        self.path = path
        self.reason = reason

    def fields(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


class UnsupportedMethodError(StorageDriverError):
    """The driver does not implement ``method`` (for example ``url_for`` on the filesystem driver)."""

    def __init__(self, method: str, *, driver: str = "") -> None:
        super().__init__(f"method not supported: {method}", driver=driver)
        self.method = method

    def fields(self) -> dict[str, Any]:
        return {"method": self.method}


class InvalidParameterError(StorageDriverError):
    """A driver parameter is unknown or has a bad value; ``accepted`` lists the parameter names the driver takes."""

    def __init__(self, parameter: str, reason: str, accepted: list[str] | None = None, *, driver: str = "") -> None:
        text = f"parameter {parameter!r}: {reason}"
        if accepted is not None:
            text += f" (accepted parameters: {', '.join(sorted(accepted)) or 'none'})"
        super().__init__(text, driver=driver)
        self.parameter = parameter
        self.reason = reason
        self.accepted = sorted(accepted) if accepted is not None else None

    def fields(self) -> dict[str, Any]:
        return {"parameter": self.parameter, "reason": self.reason, "accepted": self.accepted}


class InvalidStorageDriverError(StorageDriverError):
    """The factory found no driver called ``name``, or could not load it; ``reason`` says what was looked for."""

    def __init__(self, name: str, reason: str, *, driver: str = "") -> None:
        super().__init__(f"storage driver {name!r}: {reason}", driver=driver)
        self.name = name
        self.reason = reason

    def fields(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason}


class OperationCancelledError(StorageDriverError):
    """The operation (typically a stream) was cancelled by the caller before it completed."""

    def __init__(self, operation: str = "operation", *, driver: str = "") -> None:
        super().__init__(f"{operation} cancelled", driver=driver)
        self.operation = operation

    def fields(self) -> dict[str, Any]:
        return {"operation": self.operation}


class ProtocolError(StorageDriverError):
    """The peer broke the wire protocol (malformed frame, unexpected message, unknown stream)."""

    def __init__(self, reason: str, *, driver: str = "") -> None:
        super().__init__(f"protocol error: {reason}", driver=driver)
        self.reason = reason

    def fields(self) -> dict[str, Any]:
        return {"reason": self.reason}


class IncompatibleVersionError(ProtocolError):
    """Client and driver share no protocol version: ``offered`` by the client, ``chosen`` (or offered) by the driver."""

    def __init__(self, offered: list[str], chosen: str | None, *, driver: str = "") -> None:
        StorageDriverError.__init__(
            self,
            f"incompatible protocol version: client speaks {', '.join(offered)}, driver chose {chosen or 'none'}",
            driver=driver,
        )
        self.reason = "incompatible protocol version"
        self.offered = offered
        self.chosen = chosen

    def fields(self) -> dict[str, Any]:
        return {"offered": self.offered, "chosen": self.chosen}


class DriverExitedError(StorageDriverError):
    """The out-of-process driver exited; ``stderr_tail`` holds its last stderr lines.

    ``returncode`` is its exit status in the shell's convention (protocol.md section 10): 0 after shutdown or end of
    input, 1 an internal failure or a broken install, 2 a usage error, 3 a broken channel, 128 + N after signal N
    (137 after SIGKILL); None when it had not exited yet when the error was made.
    """

    def __init__(self, returncode: int | None, stderr_tail: str = "", *, driver: str = "") -> None:
        text = f"driver process exited with status {returncode}"
        if stderr_tail:
            text += f"; last stderr lines:\n{stderr_tail}"
        super().__init__(text, driver=driver)
        self.returncode = returncode
        self.stderr_tail = stderr_tail

    def fields(self) -> dict[str, Any]:
        return {"returncode": self.returncode, "stderr_tail": self.stderr_tail}


class DeadlineExceededError(StorageDriverError, TimeoutError):
    """A call to an out-of-process driver got no answer within ``timeout`` seconds; it was cancelled."""

    def __init__(self, method: str, timeout: float, *, driver: str = "") -> None:
        StorageDriverError.__init__(self, f"{method} got no answer within {timeout:g} s", driver=driver)
        self.method = method
        self.timeout = timeout

    def fields(self) -> dict[str, Any]:
        return {"method": self.method, "timeout": self.timeout}

    __str__ = StorageDriverError.__str__


__all__ = [
    "DeadlineExceededError",
    "DriverExitedError",
    "IncompatibleVersionError",
    "InvalidOffsetError",
    "InvalidParameterError",
    "InvalidPathError",
    "InvalidStorageDriverError",
    "OperationCancelledError",
    "PathConflictError",
    "PathNotFoundError",
    "ProtocolError",
    "StorageDriverError",
    "UnsupportedMethodError",
]
