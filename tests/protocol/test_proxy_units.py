"""The proxy's pure parts: which parameters are secret, how stderr lines map to log levels, option checks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # mypy reads the package from its folder; installed, it is registry_storage.client
    from client.logs import parse_line
    from client.options import ProxyOptions
    from client.parameters import is_secret, split_parameters
else:
    from registry_storage.client.logs import parse_line
    from registry_storage.client.options import ProxyOptions
    from registry_storage.client.parameters import is_secret, split_parameters


@pytest.mark.parametrize(
    "name",
    ["accesskey", "secretkey", "AccountKey", "password", "token", "credentials", "connectionstring",
     "connection_string", "sas", "SasToken", "api-key"],
)  # fmt: skip
def test_names_that_look_secret_are_secret(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize("name", ["bucket", "region", "rootdirectory", "chunksize", "accountname", "container"])
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret(name)


def test_explicit_secret_parameters_are_secret() -> None:
    assert is_secret("endpoint", {"endpoint"})
    public, secret = split_parameters({"bucket": "b", "secretkey": "s", "endpoint": "e"}, {"endpoint"})
    assert public == {"bucket": "b"}
    assert secret == {"secretkey": "s", "endpoint": "e"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("DEBUG driver: detail", (logging.DEBUG, "driver: detail")),
        ("INFO driver: started", (logging.INFO, "driver: started")),
        ("WARNING driver: slow", (logging.WARNING, "driver: slow")),
        ("ERROR driver: failed", (logging.ERROR, "driver: failed")),
        ("CRITICAL driver: gone", (logging.CRITICAL, "driver: gone")),
        ("print output", (logging.WARNING, "print output")),
        ("INFO", (logging.WARNING, "INFO")),
        ("info driver: lower case is no level", (logging.WARNING, "info driver: lower case is no level")),
        ("", (logging.WARNING, "")),
    ],
)
def test_stderr_lines_map_to_their_level(line: str, expected: tuple[int, str]) -> None:
    assert parse_line(line) == expected


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^timeout"):
        ProxyOptions(timeout=0.0)
    with pytest.raises(ValueError, match="start_timeout"):
        ProxyOptions(start_timeout=-1.0)
    with pytest.raises(ValueError, match="stop_timeout"):
        ProxyOptions(stop_timeout=0.0)


def test_options_need_a_version_and_a_chunk_size() -> None:
    with pytest.raises(ValueError, match="protocol_versions"):
        ProxyOptions(protocol_versions=())
    with pytest.raises(ValueError, match="chunk_bytes"):
        ProxyOptions(chunk_bytes=0)
    assert ProxyOptions(secret_parameters=["a", "a"]).secret_parameters == frozenset({"a"})
