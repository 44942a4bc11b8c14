"""How checks state what they expect, and how a broken expectation is told.

Every failure is a :class:`ConformanceFailure` whose message says what was expected and what came back, in one short
line: byte strings longer than a few dozen bytes are shown by length, sha256 and first differing offset, never dumped.
Nothing here uses ``assert``, so the checks behave the same under ``python -O`` and outside pytest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from registry_storage.driver import StorageDriver
from registry_storage.errors import PathNotFoundError, StorageDriverError

ErrorT = TypeVar("ErrorT", bound=BaseException)

SHOWN_BYTES = 32
"""Byte strings up to this length are shown in full in failure messages."""

READ_PIECE = 1 << 20
"""Size of each ``read`` the checks issue when reading a whole stream."""


class ConformanceFailure(AssertionError):  # noqa: N818 (a failed expectation, like AssertionError)
    """A driver broke the contract; the message says what was expected and what came back."""


def fail(message: str) -> NoReturn:
    """Raise ConformanceFailure with ``message``."""
    raise ConformanceFailure(message)


def expect(condition: bool, message: str) -> None:
    """Raise ConformanceFailure with ``message`` unless ``condition`` holds."""
    if not condition:
        fail(message)


def shorten(value: object, limit: int = 200) -> str:
    """``repr(value)``, cut to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


def expect_equal(actual: object, expected: object, what: str) -> None:
    """Raise ConformanceFailure naming ``what`` unless ``actual == expected``."""
    if actual != expected:
        fail(f"{what}: expected {shorten(expected)}, got {shorten(actual)}")


def expect_sequence(actual: object, expected: Sequence[object], what: str) -> None:
    """Raise ConformanceFailure naming ``what`` unless ``actual`` is a list equal to ``expected``.

    The message names the first differing position and what is missing or unexpected, not the whole lists.
    """
    expected = list(expected)
    if actual == expected:
        return
    if not isinstance(actual, list):
        fail(f"{what}: expected a list of {len(expected)} items, got {shorten(actual)}")
    index = next(
        (i for i, (left, right) in enumerate(zip(actual, expected, strict=False)) if left != right),
        min(len(actual), len(expected)),
    )
    missing = [item for item in expected if item not in actual]
    unexpected = [item for item in actual if item not in expected]
    parts = [f"{what}: expected {len(expected)} items, got {len(actual)}"]
    if index < len(expected) and index < len(actual):
        expected_item, actual_item = shorten(expected[index], 120), shorten(actual[index], 120)
        parts.append(f"first difference at index {index}: expected {expected_item}, got {actual_item}")
    if missing:
        parts.append(f"missing {shorten(missing, 160)}")
    if unexpected:
        parts.append(f"unexpected {shorten(unexpected, 160)}")
    if not missing and not unexpected:
        parts.append("same items in another order")
    fail("; ".join(parts))


def describe_bytes(data: bytes | bytearray | memoryview) -> str:
    """Short description of ``data``: its repr when small, else its length and sha256 prefix."""
    if len(data) <= SHOWN_BYTES:
        return repr(bytes(data))
    return f"{len(data)} bytes (sha256 {hashlib.sha256(data).hexdigest()[:16]})"


def first_difference(left: bytes | bytearray | memoryview, right: bytes | bytearray | memoryview) -> int:
    """Offset of the first byte where ``left`` and ``right`` differ (the shorter length when one is a prefix)."""
    size = min(len(left), len(right))
    low, high = 0, size
    view_left, view_right = memoryview(left), memoryview(right)
    if view_left[:size] == view_right[:size]:
        return size
    while high - low > 1:  # invariant: the first difference lies in [low, high)
        middle = (low + high) // 2
        if view_left[low:middle] == view_right[low:middle]:
            low = middle
        else:
            high = middle
    return low


def expect_bytes(actual: bytes | bytearray | memoryview, expected: bytes | bytearray | memoryview, what: str) -> None:
    """Raise ConformanceFailure naming ``what`` unless ``actual`` and ``expected`` are the same bytes.

    The message gives both sides briefly and the offset of the first difference.
    """
    if not isinstance(actual, (bytes, bytearray, memoryview)):
        fail(f"{what}: expected bytes, got {type(actual).__name__} {shorten(actual)}")
    if actual == expected:
        return
    offset = first_difference(actual, expected)
    fail(
        f"{what}: expected {describe_bytes(expected)}, got {describe_bytes(actual)}; first difference at byte {offset}"
    )


def expect_content(driver: StorageDriver, path: str, expected: bytes, what: str) -> None:
    """get_content(path) must return ``expected``; a missing file fails with ``what`` like any other difference."""
    try:
        actual = driver.get_content(path)
    except PathNotFoundError as error:
        raise ConformanceFailure(f"{what}: expected {describe_bytes(expected)}, got {describe_error(error)}") from error
    expect_bytes(actual, expected, what)


def describe_error(error: BaseException) -> str:
    """``Type: message`` of ``error``, with its StorageDriverError fields when it has some."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, StorageDriverError):
        fields = error.fields()
        if fields:
            text += f" {shorten(fields)}"
    return text


def expect_raises(error_type: type[ErrorT], call: Callable[[], object], what: str) -> ErrorT:
    """Run ``call``, which must raise ``error_type``; return the error.

    A StorageDriverError must also name its driver (a non-empty ``driver``). A result returned instead is closed
    when it is closable (a stream) before the failure is raised.
    """
    try:
        result = call()
    except error_type as error:
        if isinstance(error, StorageDriverError):
            expect(
                isinstance(error.driver, str) and bool(error.driver),
                f"{what}: {type(error).__name__} should name its driver, got driver={error.driver!r}",
            )
        return error
    except ConformanceFailure:
        raise
    except Exception as error:
        raise ConformanceFailure(f"{what}: expected {error_type.__name__}, got {describe_error(error)}") from error
    close = getattr(result, "close", None)
    if callable(close):
        close()
    fail(f"{what}: expected {error_type.__name__}, got no error (returned {shorten(result, 80)})")


def read_all(stream: object, limit: int, what: str) -> bytes:
    """Read ``stream`` to its end in pieces of READ_PIECE bytes, or until it gave more than ``limit`` bytes.

    The limit keeps a broken stream that never ends from running the check forever; the caller compares what came
    back with what it expected, so a stream that gave too much fails there.
    """
    read = getattr(stream, "read", None)
    if not callable(read):
        fail(f"{what}: expected a readable stream, got {type(stream).__name__}")
    pieces: list[bytes] = []
    total = 0
    while True:
        piece = read(READ_PIECE)
        if not isinstance(piece, (bytes, bytearray)):
            fail(f"{what}: read() should return bytes, got {type(piece).__name__}")
        if not piece:
            return b"".join(pieces)
        if len(piece) > READ_PIECE:
            fail(f"{what}: read({READ_PIECE}) returned {len(piece)} bytes")
        pieces.append(bytes(piece))
        total += len(piece)
        if total > limit:
            return b"".join(pieces)


def expect_stream(stream: object, expected: bytes, what: str) -> None:
    """Read ``stream`` to its end and compare with ``expected``; the caller closes the stream."""
    expect_bytes(read_all(stream, len(expected), what), expected, what)
