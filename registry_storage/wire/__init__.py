"""The wire codec of the registry-storage protocol, sans I/O: frames, values, errors and the handshake rules.

The host and the client do the I/O; everything here is pure and testable byte by byte.
"""

from registry_storage.wire.errors import ERROR_CODES, code_for, error_from_wire, error_to_wire
from registry_storage.wire.frames import Frame, FrameDecoder, FrameError, encode_frame
from registry_storage.wire.handshake import PROTOCOL_VERSION, Limits, accepts_chosen, choose_version, parse_version
from registry_storage.wire.values import dumps, fileinfo_from_wire, fileinfo_to_wire, format_time, loads, parse_time

__all__ = [
    "ERROR_CODES",
    "PROTOCOL_VERSION",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "Limits",
    "accepts_chosen",
    "choose_version",
    "code_for",
    "dumps",
    "encode_frame",
    "error_from_wire",
    "error_to_wire",
    "fileinfo_from_wire",
    "fileinfo_to_wire",
    "format_time",
    "loads",
    "parse_time",
    "parse_version",
]
