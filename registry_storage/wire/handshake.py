"""Protocol versions, the version rule and the limits exchanged in the handshake (protocol.md sections 5 and 12)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from registry_storage.wire.frames import DEFAULT_MAX_ATTACHMENT_BYTES, DEFAULT_MAX_MESSAGE_BYTES

PROTOCOL_VERSION = "1.2"
"""The version this implementation speaks, ``"major.minor"``."""

IMPLEMENTATION = "registry-storage-python"


def parse_version(text: object) -> tuple[int, int] | None:
    """``(major, minor)`` of a ``"major.minor"`` string, or None when it is not one."""
    if not isinstance(text, str):
        return None
    major, dot, minor = text.partition(".")
    if not dot or not major.isdigit() or not minor.isdigit():
        return None
    return int(major), int(minor)


def choose_version(offered: object, supported: str = PROTOCOL_VERSION) -> str | None:
    """The driver's choice: the highest offered version with a major it implements, minor capped at its own.

    Returns None when no offered major matches.
    """
    own = parse_version(supported)
    assert own is not None
    best: tuple[int, int] | None = None
    for text in offered if isinstance(offered, list) else []:
        version = parse_version(text)
        if version is None or version[0] != own[0]:
            continue
        candidate = (version[0], min(version[1], own[1]))
        if best is None or candidate > best:
            best = candidate
    return None if best is None else f"{best[0]}.{best[1]}"


def accepts_chosen(chosen: object, offered: list[str]) -> bool:
    """The client's re-check: same major as an offered version and a minor no higher than the client's."""
    version = parse_version(chosen)
    if version is None:
        return False
    for text in offered:
        mine = parse_version(text)
        if mine is not None and mine[0] == version[0] and version[1] <= mine[1]:
            return True
    return False


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class Limits:
    """Receive limits one side announces in the handshake (protocol.md section 12)."""

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    max_chunk_bytes: int = 4 << 20
    stream_window: int = 4
    max_streams: int = 256

    def to_wire(self) -> dict[str, int]:
        """The limits as the handshake's JSON object."""
        return asdict(self)

    @classmethod
    def from_wire(cls, value: object) -> Limits:
        """Limits from a handshake object; absent, unknown or non-positive members take the defaults."""
        given: dict[str, Any] = value if isinstance(value, dict) else {}
        chosen = {field.name: given[field.name] for field in fields(cls) if _positive_int(given.get(field.name))}
        return cls(**chosen)
