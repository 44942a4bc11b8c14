"""Errors on the wire: one stable JSON-RPC error code per error type (protocol.md section 8).

:func:`error_to_wire` turns an exception raised by a driver into ``(code, message, data)``; :func:`error_from_wire`
rebuilds the same exception type with the same fields on the other side.
"""

from __future__ import annotations

import inspect
from typing import Any

from registry_storage import errors
from registry_storage.errors import StorageDriverError

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800

STORAGE_ERROR = 1000
PROTOCOL_STATE_ERROR = 1009

ERROR_CODES: dict[type[StorageDriverError], int] = {
    errors.StorageDriverError: STORAGE_ERROR,
    errors.PathNotFoundError: 1001,
    errors.InvalidPathError: 1002,
    errors.InvalidOffsetError: 1003,
    errors.PathConflictError: 1004,
    errors.UnsupportedMethodError: 1005,
    errors.InvalidParameterError: 1006,
    errors.OperationCancelledError: 1007,
    errors.IncompatibleVersionError: 1008,
    errors.ProtocolError: PROTOCOL_STATE_ERROR,
}
"""The code of each error type a driver may send; subclasses not listed travel as their nearest listed base."""

_TYPES: dict[str, type[StorageDriverError]] = {cls.__name__: cls for cls in ERROR_CODES}


def code_for(error: StorageDriverError) -> int:
    """The wire code of ``error``: its own type's, or that of its nearest listed base class."""
    for cls in type(error).__mro__:
        if cls in ERROR_CODES:
            return ERROR_CODES[cls]
    return STORAGE_ERROR


def error_to_wire(error: StorageDriverError, driver: str) -> tuple[int, str, dict[str, Any]]:
    """``(code, message, data)`` for an error response; ``data`` holds the type, the driver and the fields."""
    code = code_for(error)
    wire_type = next(cls.__name__ for cls in type(error).__mro__ if cls in ERROR_CODES)
    fields = error.fields() if wire_type == type(error).__name__ else {}
    data: dict[str, Any] = {"type": wire_type, "driver": error.driver or driver, **fields}
    return code, error.message, data


def error_from_wire(code: int, message: str, data: object, driver: str) -> StorageDriverError:
    """Rebuild the exception an error response describes; unknown or malformed ones become StorageDriverError."""
    fields = dict(data) if isinstance(data, dict) else {}
    wire_type = fields.pop("type", None)
    driver = str(fields.pop("driver", None) or driver)
    cls = _TYPES.get(wire_type) if isinstance(wire_type, str) else None
    if cls is None or cls is StorageDriverError:
        return StorageDriverError(str(message), driver=driver)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "driver"}
    try:
        error = cls(**{key: value for key, value in fields.items() if key in accepted}, driver=driver)
    except TypeError:
        return StorageDriverError(f"{wire_type}: {message}", driver=driver)
    error.message = str(message)
    return error
