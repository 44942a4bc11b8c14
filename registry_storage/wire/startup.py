"""The start-up failure line (protocol.md section 2): how a driver that cannot start says why, in any language.

A driver that exits before serving (bad parameters, a broken install) writes ONE stderr line

    ERROR registry-storage-<name>: {"code": 1006, "message": "...", "data": {"type": "InvalidParameterError", ...}}

that is both a log line (section 11: level ``ERROR``, logger the program's name) and the error object of section 8,
so the client rebuilds the same exception type with the same fields instead of a bare exit status.
"""

from __future__ import annotations

from registry_storage.errors import StorageDriverError
from registry_storage.wire.errors import error_from_wire, error_to_wire
from registry_storage.wire.values import dumps, loads

LEVEL = "ERROR"


def format_startup_error(program: str, error: StorageDriverError, driver: str) -> str:
    """The start-up failure line of ``error`` for the program ``program`` (no line end)."""
    code, message, data = error_to_wire(error, driver)
    body = dumps({"code": code, "message": " ".join(message.split()), "data": data}).decode()
    return f"{LEVEL} {program}: {body}"


def parse_startup_error(line: str, driver: str) -> StorageDriverError | None:
    """The error a start-up failure line describes, or None when ``line`` is not one."""
    head, space, rest = line.partition(" ")
    if head != LEVEL or not space:
        return None
    _, colon, body = rest.partition(": ")
    if not colon or not body.startswith("{"):
        return None
    try:
        value = loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    code, message, data = value.get("code"), value.get("message"), value.get("data")
    if type(code) is not int or not isinstance(message, str) or not isinstance(data, dict) or "type" not in data:
        return None
    return error_from_wire(code, message, data, driver)


def startup_error_in(tail: str, driver: str) -> StorageDriverError | None:
    """The last start-up failure line's error among the stderr lines ``tail``, or None when there is none."""
    for line in reversed(tail.splitlines()):
        error = parse_startup_error(line, driver)
        if error is not None:
            return error
    return None


__all__ = ["format_startup_error", "parse_startup_error", "startup_error_in"]
