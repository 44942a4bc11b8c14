"""GCS moves by rewrite (several calls when the service asks), and V4 signed URLs from a service-account key."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.drivers.gcs.bucket import rewrite_all
from registry_storage.errors import InvalidParameterError, UnsupportedMethodError


def test_move_is_a_server_side_rewrite_then_a_delete(recorder: Any, gcs_driver: StorageDriver, gcs_bucket: Any) -> None:
    content = os.urandom(700_000)
    gcs_driver.put_content("/from/here", content)
    log = recorder(gcs_driver)
    gcs_driver.move("/from/here", "/to/there")
    assert log.matching("POST", "/rewriteTo/"), log.requests
    assert not [entry for entry in log.requests if "/upload/" in entry[1] or "/download/" in entry[1]]
    assert gcs_driver.get_content("/to/there") == content
    assert sorted(blob.name for blob in gcs_bucket.list_blobs()) == ["to/there"]


def test_a_rewrite_goes_on_while_the_service_returns_a_token() -> None:
    """fake-gcs-server finishes every rewrite in one call, so the loop is driven here by answers in the shape the
    service gives for a large object: a token until the last call."""
    answers = iter([("token-1", 100, 300), ("token-2", 200, 300), (None, 300, 300)])
    tokens: list[str | None] = []

    def call(token: str | None) -> tuple[str | None, int, int]:
        tokens.append(token)
        return next(answers)

    assert rewrite_all(call) == 3
    assert tokens == [None, "token-1", "token-2"]


def test_url_for_without_a_private_key_is_unsupported(gcs_driver: StorageDriver) -> None:
    gcs_driver.put_content("/plain", b"x")
    with pytest.raises(UnsupportedMethodError):
        gcs_driver.url_for("/plain")


def _verify_v4_signature(url: str, key: dict[str, str], method: str = "GET") -> dict[str, str]:
    """Rebuild the V4 string to sign from ``url`` and check its signature against the key's public half."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(query.pop("X-Goog-Signature"))
    canonical_query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(query.items()))
    canonical_request = "\n".join(
        [method, parts.path, canonical_query, f"host:{parts.netloc}\n", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        ["GOOG4-RSA-SHA256", query["X-Goog-Date"], scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    private_key = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    private_key.public_key().verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return query


def _signing_driver(gcs_parameters: dict[str, Any], key: dict[str, str]) -> StorageDriver:
    return registry_storage.create("gcs", {**gcs_parameters, "credentials": key, "rootdirectory": "/reg"})


def test_url_for_with_a_service_account_key_is_a_v4_signed_url(
    gcs_parameters: dict[str, Any], service_account_key: dict[str, str], bucket_name: str
) -> None:
    with _signing_driver(gcs_parameters, service_account_key) as driver:
        driver.put_content("/signed/blob", b"signed content")
        url = driver.url_for("/signed/blob", expiry=600)
        head_url = driver.url_for("/signed/blob", method="HEAD")
    assert urlsplit(url).path == f"/{bucket_name}/reg/signed/blob"
    query = _verify_v4_signature(url, service_account_key)
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-Credential"].startswith(service_account_key["client_email"] + "/")
    assert query["X-Goog-Expires"] == "600"
    assert _verify_v4_signature(head_url, service_account_key, "HEAD")["X-Goog-Expires"] == "1200"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == b"signed content"


@pytest.mark.parametrize(
    "options", [{"expiry": 0}, {"expiry": 8 * 86400}, {"expiry": "yesterday"}, {"method": "PUT"}, {"expiry": True}]
)
def test_url_for_refuses_bad_options(
    gcs_parameters: dict[str, Any], service_account_key: dict[str, str], options: dict[str, Any]
) -> None:
    with _signing_driver(gcs_parameters, service_account_key) as driver, pytest.raises(InvalidParameterError):
        driver.url_for("/any", **options)


def test_url_for_works_over_the_protocol(gcs_parameters: dict[str, Any], service_account_key: dict[str, str]) -> None:
    parameters = {**gcs_parameters, "credentials": service_account_key}
    with registry_storage.create("gcs", parameters, out_of_process=True) as driver:
        driver.put_content("/remote", b"via the child")
        url = driver.url_for("/remote")
    _verify_v4_signature(url, service_account_key)
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == b"via the child"
