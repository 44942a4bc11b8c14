"""The ``redirect`` middleware: every URL is ``baseurl`` with the path appended; the driver is not asked."""

from __future__ import annotations

import posixpath
import urllib.parse
from collections.abc import Mapping
from typing import Any

from .base import InnerURL, URLMiddleware, check_options, option_error, text_option


def parse_base_url(middleware: str, text: str) -> urllib.parse.SplitResult:
    """``text`` as an absolute http(s) URL; raises InvalidParameterError naming ``<middleware>.baseurl`` otherwise."""
    base = urllib.parse.urlsplit(text)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise option_error(middleware, "baseurl", f"must be an absolute http or https URL, not {text!r}")
    if base.query or base.fragment:
        raise option_error(middleware, "baseurl", f"must have no query or fragment: {text!r}")
    return base


class Redirect(URLMiddleware):
    """``url_for(path)`` is ``baseurl`` joined with ``path`` (``https://cdn.example/base`` + ``/a/b``)."""

    name = "redirect"
    accepted = ("baseurl",)

    def __init__(self, baseurl: str) -> None:
        self._base = parse_base_url(self.name, baseurl)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Redirect:
        """From the entry's ``options``; raises InvalidParameterError for a missing or bad ``baseurl``."""
        check_options(cls.name, options, cls.accepted)
        return cls(text_option(cls.name, options, "baseurl", required=True))

    def url_for(self, path: str, options: Mapping[str, Any], inner: InnerURL) -> str:
        joined = posixpath.join(self._base.path or "/", path.lstrip("/"))
        return urllib.parse.urlunsplit((self._base.scheme, self._base.netloc, joined, "", ""))


__all__ = ["Redirect", "parse_base_url"]
