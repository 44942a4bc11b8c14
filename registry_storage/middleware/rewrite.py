"""The ``rewrite`` middleware: the driver's own URL with its scheme or host replaced, or a path prefix cut off."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from .base import InnerURL, URLMiddleware, check_options, option_error, text_option


class Rewrite(URLMiddleware):
    """Rewrites what the wrapped driver's ``url_for`` answers: ``scheme``, ``host`` (with port), ``trimprefix``.

    The query (a presigned URL's signature) is kept as it is. A driver without URLs raises UnsupportedMethodError.
    """

    name = "rewrite"
    accepted = ("scheme", "host", "trimprefix")

    def __init__(self, scheme: str = "", host: str = "", trimprefix: str = "") -> None:
        if scheme and scheme not in ("http", "https"):
            raise option_error(self.name, "scheme", f"must be http or https, not {scheme!r}")
        if "/" in host:
            raise option_error(self.name, "host", f"must be a host name with an optional port, not {host!r}")
        self.scheme = scheme
        self.host = host
        self.trimprefix = trimprefix

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Rewrite:
        """From the entry's ``options``; raises InvalidParameterError for an unknown or bad option."""
        check_options(cls.name, options, cls.accepted)
        return cls(*(text_option(cls.name, options, option) for option in cls.accepted))

    def url_for(self, path: str, options: Mapping[str, Any], inner: InnerURL) -> str:
        url = urllib.parse.urlsplit(inner(path, **options))
        if self.scheme:
            url = url._replace(scheme=self.scheme)
        if self.host:
            url = url._replace(netloc=self.host)
        if self.trimprefix and url.path.startswith(self.trimprefix):
            url = url._replace(path=url.path[len(self.trimprefix) :])
        return urllib.parse.urlunsplit(url)


__all__ = ["Rewrite"]
