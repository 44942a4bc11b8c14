"""URL middleware as the registry has it (``middleware: storage:``): ``redirect``, ``rewrite``, ``cloudfront``.

    from registry_storage.middleware import CloudFront, with_middleware
    driver = with_middleware(driver, [CloudFront("https://cdn.example/", "KEYPAIRID", privatekey="/key.pem")])
    driver.url_for("/docker/registry/v2/blobs/...")   # a signed CloudFront URL

or from a registry configuration file: ``with_middleware(driver, read_middleware("config.yml"))``.
"""

from __future__ import annotations

from .base import MiddlewareDriver, URLMiddleware
from .cloudfront import CloudFront, parse_duration
from .config import MIDDLEWARE, middleware_from_entries, read_middleware, with_middleware
from .redirect import Redirect
from .rewrite import Rewrite

__all__ = [
    "MIDDLEWARE",
    "CloudFront",
    "MiddlewareDriver",
    "Redirect",
    "Rewrite",
    "URLMiddleware",
    "middleware_from_entries",
    "parse_duration",
    "read_middleware",
    "with_middleware",
]
