"""The registry's ``middleware: storage:`` section, read into URL middleware and applied to a driver.

The section is a list of entries, applied in order (the last one outermost)::

    middleware:
      storage:
        - name: cloudfront
          options:
            baseurl: https://d111111abcdef8.cloudfront.net/
            privatekey: /etc/registry/cloudfront.pem
            keypairid: K2JCJMDEHXQW5F
            duration: 3000s
        - name: rewrite
          options: {scheme: https, host: registry.example.com, trimprefix: /v2}

An entry with ``disabled: true`` is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from registry_storage.driver import StorageDriver
from registry_storage.errors import InvalidParameterError

from .base import MiddlewareDriver, URLMiddleware, option_error
from .cloudfront import CloudFront
from .redirect import Redirect
from .rewrite import Rewrite

MIDDLEWARE: dict[str, Any] = {"redirect": Redirect, "rewrite": Rewrite, "cloudfront": CloudFront}
"""The URL middleware by the name entries give them; each class has ``from_options(options)``."""


def middleware_from_entries(entries: object) -> list[URLMiddleware]:
    """The middleware a ``middleware: storage:`` list describes, in order.

    Raises InvalidParameterError for an entry that is not a mapping with a known ``name``, or a bad option.
    """
    if entries is None:
        return []
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise option_error("middleware.storage", "", "must be a list of {name, options} entries")
    found: list[URLMiddleware] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise option_error("middleware.storage", "", f"every entry needs a name, not {entry!r}")
        if entry.get("disabled") is True:
            continue
        name = entry["name"]
        factory = MIDDLEWARE.get(name)
        if factory is None:
            raise option_error(name, "", "unknown storage middleware", tuple(MIDDLEWARE))
        options = entry.get("options") or {}
        if not isinstance(options, Mapping):
            raise option_error(name, "options", "must be a mapping")
        found.append(factory.from_options(options))
    return found


def read_middleware(path: str) -> list[URLMiddleware]:
    """The ``middleware: storage:`` entries of the registry-style YAML file ``path`` ([] when it has none).

    Raises InvalidParameterError for an unreadable file, bad YAML or a bad entry.
    """
    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except OSError as error:
        raise InvalidParameterError("middleware", f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise InvalidParameterError("middleware", f"{path} is not valid YAML: {error}") from None
    section = document.get("middleware") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        return []
    return middleware_from_entries(section.get("storage"))


def with_middleware(driver: StorageDriver, middleware: Sequence[URLMiddleware]) -> StorageDriver:
    """``driver`` wrapped in each of ``middleware`` in turn (the last outermost); ``driver`` itself for none."""
    for entry in middleware:
        driver = MiddlewareDriver(driver, entry)
    return driver


__all__ = ["MIDDLEWARE", "middleware_from_entries", "read_middleware", "with_middleware"]
