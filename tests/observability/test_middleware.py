"""URL middleware: redirect, rewrite and a CloudFront signature checked with the public key."""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.errors import InvalidParameterError, InvalidPathError, UnsupportedMethodError
from registry_storage.middleware import (
    CloudFront,
    MiddlewareDriver,
    Redirect,
    Rewrite,
    middleware_from_entries,
    parse_duration,
    read_middleware,
    with_middleware,
)

NOW = 1_800_000_000


class PresigningDriver(InMemoryDriver):
    """An in-memory driver that answers url_for like an S3 driver behind an internal endpoint."""

    def _url_for(self, path: str, **options: Any) -> str:
        expiry = options.get("expiry", 1200)
        return f"http://storage.internal:9000/bucket/v2{path}?X-Amz-Expires={expiry}&X-Amz-Signature=abc"


@pytest.fixture
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path: Path, key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "cloudfront.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _cloudfront_b64decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def test_redirect_joins_the_base_url_and_the_path() -> None:
    driver = with_middleware(InMemoryDriver(), [Redirect("https://cdn.example.com/base/")])
    assert (
        driver.url_for("/docker/registry/v2/blobs/data") == "https://cdn.example.com/base/docker/registry/v2/blobs/data"
    )
    bare = with_middleware(InMemoryDriver(), [Redirect("http://cdn.example.com:8080")])
    assert bare.url_for("/a/b") == "http://cdn.example.com:8080/a/b"


def test_the_path_is_checked_before_any_middleware() -> None:
    driver = with_middleware(InMemoryDriver(), [Redirect("https://cdn.example.com")])
    with pytest.raises(InvalidPathError):
        driver.url_for("/a/../b")


def test_rewrite_changes_the_drivers_own_url() -> None:
    rewrite = Rewrite(scheme="https", host="registry.example.com", trimprefix="/bucket")
    driver = with_middleware(PresigningDriver(), [rewrite])
    url = driver.url_for("/a/b", expiry=60)
    assert url == "https://registry.example.com/v2/a/b?X-Amz-Expires=60&X-Amz-Signature=abc"


def test_rewrite_of_a_driver_without_urls_is_unsupported() -> None:
    driver = with_middleware(InMemoryDriver(), [Rewrite(host="example.com")])
    with pytest.raises(UnsupportedMethodError):
        driver.url_for("/a")


def test_cloudfront_signs_a_canned_policy_the_public_key_verifies(key: rsa.RSAPrivateKey, key_file: Path) -> None:
    cloudfront = CloudFront(
        "https://d111111abcdef8.cloudfront.net/", "K2JCJMDEHXQW5F", privatekey=str(key_file), clock=lambda: NOW
    )
    url = with_middleware(InMemoryDriver(), [cloudfront]).url_for("/docker/registry/v2/blobs/x")
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    resource = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    assert resource == "https://d111111abcdef8.cloudfront.net/docker/registry/v2/blobs/x"
    assert query["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    assert int(query["Expires"]) == NOW + 20 * 60
    policy = json.dumps(
        {"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": NOW + 1200}}}]},
        separators=(",", ":"),
    ).encode()
    signature = _cloudfront_b64decode(query["Signature"])
    key.public_key().verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())
    tampered = policy.replace(b"blobs/x", b"blobs/y")
    with pytest.raises(InvalidSignature):
        key.public_key().verify(signature, tampered, padding.PKCS1v15(), hashes.SHA1())


def test_cloudfront_duration_from_the_registry_configuration(key_file: Path) -> None:
    options = {"baseurl": "https://cdn.example/", "privatekey": str(key_file), "keypairid": "K", "duration": "3000s"}
    assert CloudFront.from_options(options).duration == 3000
    assert parse_duration("1h30m") == 5400
    assert parse_duration("500ms") == 0.5
    assert parse_duration(90) == 90
    for bad in ("20 minutes", "", "-5s", "0s", True):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"privatekey": "KEY", "keypairid": "K"}, "cloudfront.baseurl"),
        ({"baseurl": "https://cdn.example/", "keypairid": "K"}, "cloudfront.privatekey"),
        ({"baseurl": "https://cdn.example/", "privatekey": "KEY"}, "cloudfront.keypairid"),
        (
            {"baseurl": "https://cdn.example/", "privatekey": "KEY", "keypairid": "K", "duration": "soon"},
            "cloudfront.duration",
        ),
        (
            {"baseurl": "https://cdn.example/", "privatekey": "KEY", "keypairid": "K", "ipfilteredby": "aws"},
            "cloudfront.ipfilteredby",
        ),
        ({"baseurl": "ftp://cdn.example/", "privatekey": "KEY", "keypairid": "K"}, "cloudfront.baseurl"),
        (
            {"baseurl": "https://cdn.example/", "privatekey": "/nonexistent.pem", "keypairid": "K"},
            "cloudfront.privatekey",
        ),
        (
            {"baseurl": "https://cdn.example/", "privatekey": "KEY", "keypairid": "K", "colour": "red"},
            "cloudfront.colour",
        ),
    ],
)
def test_bad_cloudfront_options_are_named(options: dict[str, Any], parameter: str, key_file: Path) -> None:
    options = {key: str(key_file) if value == "KEY" else value for key, value in options.items()}
    with pytest.raises(InvalidParameterError) as raised:
        CloudFront.from_options(options)
    assert raised.value.parameter == parameter


def test_a_key_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "key.pem"
    garbage.write_text("not a key", encoding="utf-8")
    with pytest.raises(InvalidParameterError, match="PEM"):
        CloudFront("https://cdn.example/", "K", privatekey=str(garbage))


def test_the_registrys_section_applies_in_order(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "storage:\n  inmemory: {}\n"
        "middleware:\n  storage:\n"
        "    - name: redirect\n      options:\n        baseurl: http://first.example/x\n"
        "    - name: cloudfront\n      disabled: true\n"
        "    - name: rewrite\n      options:\n        scheme: https\n"
        "        host: second.example\n        trimprefix: /x\n",
        encoding="utf-8",
    )
    middleware = read_middleware(str(config))
    assert [entry.name for entry in middleware] == ["redirect", "rewrite"]
    driver = with_middleware(InMemoryDriver(), middleware)
    assert isinstance(driver, MiddlewareDriver)
    assert driver.url_for("/a/b") == "https://second.example/a/b"


@pytest.mark.parametrize(
    "entries", ["redirect", [{"options": {}}], [{"name": "gzip"}], [{"name": "redirect", "options": ["baseurl"]}]]
)
def test_a_bad_section_is_refused(entries: object) -> None:
    with pytest.raises(InvalidParameterError):
        middleware_from_entries(entries)


def test_a_config_without_middleware_has_none(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("storage:\n  inmemory: {}\n", encoding="utf-8")
    assert read_middleware(str(config)) == []


def test_the_wrapper_is_the_driver_otherwise_and_observed_once(spans: InMemorySpanExporter) -> None:
    inner = InMemoryDriver()
    driver = with_middleware(inner, [Redirect("https://cdn.example")])
    driver.put_content("/a/b", b"hello")
    assert inner.get_content("/a/b") == b"hello"
    with driver.read_stream("/a/b", 1) as stream:
        assert stream.read() == b"ello"
    assert [entry.path for entry in driver.walk("/")] == ["/a", "/a/b"]
    driver.move("/a/b", "/c")
    assert driver.list("/") == ["/c"]
    driver.delete("/c")
    assert driver.name == "inmemory"
    names = [span.name for span in spans.get_finished_spans()]
    assert names.count("registry_storage.put_content") == 1
    assert names.count("registry_storage.read_stream") == 1
