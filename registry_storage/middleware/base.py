"""URL middleware: what rewrites a driver's ``url_for`` answers, and the driver wrapper that applies it.

A :class:`URLMiddleware` turns a path (and the wrapped driver's own ``url_for``) into the URL a client is sent to,
as the registry's ``middleware: storage:`` entries do. :class:`MiddlewareDriver` wraps a driver with one middleware:
every other method goes straight to the wrapped driver's implementation, so paths are checked and calls observed
once, by the wrapper's own base class. Wrapping again stacks them, the last one outermost, as the registry does.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from io import BufferedIOBase
from typing import Any

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import InvalidParameterError
from registry_storage.fileinfo import FileInfo

InnerURL = Callable[..., str]
"""The wrapped driver's ``url_for(path, **options)``."""


class URLMiddleware(abc.ABC):
    """One entry of the registry's ``middleware: storage:`` section: a rule for the URL of a path."""

    name: str = ""
    """The name the entry has in the configuration (``redirect``, ``rewrite``, ``cloudfront``)."""

    accepted: tuple[str, ...] = ()
    """The option names the entry takes."""

    @abc.abstractmethod
    def url_for(self, path: str, options: Mapping[str, Any], inner: InnerURL) -> str:
        """The URL for the valid ``path``; ``inner(path, **options)`` asks the wrapped driver.

        Raises what ``inner`` raises (UnsupportedMethodError for a driver without URLs) when it asks it.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} middleware {self.name!r}>"


def option_error(middleware: str, option: str, reason: str, accepted: tuple[str, ...] | None = None) -> Exception:
    """The error for a bad option of a middleware entry (InvalidParameterError naming ``<middleware>.<option>``)."""
    return InvalidParameterError(
        f"{middleware}.{option}" if option else middleware,
        reason,
        list(accepted) if accepted is not None else None,
        driver="middleware",
    )


def check_options(middleware: str, options: Mapping[str, Any], accepted: tuple[str, ...]) -> None:
    """Raise InvalidParameterError for an option name ``middleware`` does not take."""
    for key in options:
        if key not in accepted:
            raise option_error(middleware, str(key), "unknown option", accepted)


def text_option(middleware: str, options: Mapping[str, Any], option: str, *, required: bool = False) -> str:
    """The string option ``option`` ("" when absent); raises InvalidParameterError when missing but required or not
    a string."""
    value = options.get(option, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise option_error(middleware, option, f"must be a string, not {type(value).__name__}")
    if required and not value:
        raise option_error(middleware, option, "is required")
    return value


class MiddlewareDriver(StorageDriver):
    """``inner`` with ``middleware`` applied to its ``url_for``; everything else is ``inner``'s.

    The wrapper has ``inner``'s name; closing it closes ``inner``.
    """

    def __init__(self, inner: StorageDriver, middleware: URLMiddleware) -> None:
        self.inner = inner
        self.middleware = middleware
        self.name = inner.name

    def _get_content(self, path: str) -> bytes:
        return self.inner._get_content(path)

    def _put_content(self, path: str, content: bytes) -> None:
        self.inner._put_content(path, content)

    def _read_stream(self, path: str, offset: int) -> BufferedIOBase:
        return self.inner._read_stream(path, offset)

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        return self.inner._write_stream(path, offset, chunks)

    def _stat(self, path: str) -> FileInfo:
        return self.inner._stat(path)

    def _list(self, path: str) -> PathList:
        return self.inner._list(path)

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        return self.inner._walk(path, start_after)

    def _move(self, source: str, destination: str) -> None:
        self.inner._move(source, destination)

    def _delete(self, path: str) -> None:
        self.inner._delete(path)

    def _url_for(self, path: str, **options: Any) -> str:
        return self.middleware.url_for(path, options, self.inner._url_for)

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"<MiddlewareDriver {self.middleware.name} over {self.inner!r}>"


__all__ = ["InnerURL", "MiddlewareDriver", "URLMiddleware", "check_options", "option_error", "text_option"]
