"""JSON encoding of the values the protocol carries: times and FileInfo (protocol.md section 4)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import orjson

from registry_storage.errors import ProtocolError
from registry_storage.fileinfo import FileInfo

_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def dumps(value: Any) -> bytes:
    """Serialise a JSON value compactly (orjson)."""
    return orjson.dumps(value)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; raises ``orjson.JSONDecodeError`` (a ValueError) on bad input."""
    return orjson.loads(data)


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with every microsecond digit: ``2026-11-28T07:05:59.123456Z``."""
    utc = moment if moment.tzinfo is timezone.utc else moment.astimezone(timezone.utc)
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" to "Z", without a replace (0.4 us)


def parse_time(text: object) -> datetime:
    """Parse an RFC 3339 UTC time with 0-9 fractional digits; digits past microseconds are truncated.

    Raises ProtocolError for anything else.
    """
    if isinstance(text, str) and len(text) == 27 and text[10] == "T" and text[19] == "." and text[26] == "Z":
        try:  # the common case, six digits: what this implementation writes (an offset parses 3x faster than replace)
            return datetime.fromisoformat(text[:26] + "+00:00")
        except ValueError:
            pass
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ProtocolError(f"bad time {text!r}: expected RFC 3339 UTC like 2026-11-28T07:05:59.123456789Z")
    year, month, day, hour, minute, second, fraction = match.groups()
    micros = int((fraction or "0").ljust(6, "0")[:6])
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, timezone.utc)


def fileinfo_to_wire(info: FileInfo) -> dict[str, Any]:
    """A FileInfo as the protocol's JSON object."""
    return {"path": info.path, "size": info.size, "mod_time": format_time(info.mod_time), "is_dir": info.is_dir}


def fileinfo_from_wire(value: object) -> FileInfo:
    """Rebuild a FileInfo; raises ProtocolError when a member is missing or of the wrong type."""
    if not isinstance(value, dict):
        raise ProtocolError(f"expected a FileInfo object, got {type(value).__name__}")
    path, size, is_dir = value.get("path"), value.get("size"), value.get("is_dir")
    if not isinstance(path, str) or not isinstance(size, int) or isinstance(size, bool) or not isinstance(is_dir, bool):
        raise ProtocolError(f"malformed FileInfo {value!r}")
    return FileInfo(path, size, parse_time(value.get("mod_time")), is_dir)
