"""GCS driver parameters: the registry's names and defaults, the emulator endpoint, refusals that change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import registry_storage
from registry_storage.drivers.gcs import GCSDriver, GCSSettings
from registry_storage.drivers.gcs.parameters import DEFAULT_CHUNK_SIZE
from registry_storage.errors import InvalidParameterError, PathNotFoundError, StorageDriverError
from registry_storage.testing import servers

NO_EMULATOR: dict[str, str] = {}


def test_defaults_are_the_registrys() -> None:
    settings = GCSSettings.from_parameters({"bucket": "registry"}, NO_EMULATOR)
    assert settings.chunksize == DEFAULT_CHUNK_SIZE == 16 * 1024 * 1024
    assert settings.maxconcurrency == 50
    assert settings.rootdirectory == ""
    assert settings.endpoint is None
    assert settings.credentials is None


def test_values_come_as_json_or_strings_and_rootdirectory_is_trimmed() -> None:
    settings = GCSSettings.from_parameters(
        {"bucket": "registry", "chunksize": "524288", "maxconcurrency": 8, "rootdirectory": "/a/b/"}, NO_EMULATOR
    )
    assert (settings.chunksize, settings.maxconcurrency, settings.rootdirectory) == (524288, 8, "a/b")
    assert settings.object_prefix == "a/b/"


@pytest.mark.parametrize(
    ("given", "parameter"),
    [
        ({}, "bucket"),
        ({"bucket": "Not_A_Bucket"}, "bucket"),
        ({"bucket": "registry", "chunksize": 300000}, "chunksize"),
        ({"bucket": "registry", "chunksize": 1024}, "chunksize"),
        ({"bucket": "registry", "maxconcurrency": 0}, "maxconcurrency"),
        ({"bucket": "registry", "rootdirectory": "/a/../b"}, "rootdirectory"),
        ({"bucket": "registry", "endpoint": "ftp://127.0.0.1:1"}, "endpoint"),
        ({"bucket": "registry", "credentials": {"type": "user"}}, "credentials"),
        ({"bucket": "registry", "credentials": "[1]"}, "credentials"),
        ({"bucket": "registry", "keyfile": "/nonexistent/key.json"}, "keyfile"),
        ({"bucket": "registry", "region": "eu"}, "region"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter_and_listing_the_accepted(
    given: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        GCSSettings.from_parameters(given, NO_EMULATOR)
    assert caught.value.parameter == parameter
    assert caught.value.accepted is not None
    assert {"bucket", "chunksize", "credentials", "endpoint", "keyfile", "maxconcurrency"} <= set(caught.value.accepted)


def test_keyfile_and_credentials_give_the_same_key_and_exclude_each_other(
    tmp_path: Path, service_account_key: dict[str, str]
) -> None:
    keyfile = tmp_path / "key.json"
    keyfile.write_text(json.dumps(service_account_key))
    from_file = GCSSettings.from_parameters({"bucket": "registry", "keyfile": str(keyfile)}, NO_EMULATOR)
    inline = GCSSettings.from_parameters({"bucket": "registry", "credentials": service_account_key}, NO_EMULATOR)
    assert from_file.credentials == inline.credentials == service_account_key
    with pytest.raises(InvalidParameterError) as caught:
        GCSSettings.from_parameters(
            {"bucket": "registry", "keyfile": str(keyfile), "credentials": service_account_key}, NO_EMULATOR
        )
    assert caught.value.parameter == "credentials"


def test_the_key_never_shows_in_reprs_or_errors(service_account_key: dict[str, str]) -> None:
    settings = GCSSettings.from_parameters({"bucket": "registry", "credentials": service_account_key}, NO_EMULATOR)
    assert service_account_key["private_key"] not in repr(settings)
    assert "***" in repr(settings)
    broken = {**service_account_key, "type": "authorized_user"}
    with pytest.raises(InvalidParameterError) as caught:
        GCSSettings.from_parameters({"bucket": "registry", "credentials": broken}, NO_EMULATOR)
    assert service_account_key["private_key"] not in str(caught.value)


def test_the_emulator_comes_from_storage_emulator_host_or_endpoint() -> None:
    from_environment = GCSSettings.from_parameters({"bucket": "b12"}, {"STORAGE_EMULATOR_HOST": "127.0.0.1:4443"})
    assert from_environment.endpoint == "http://127.0.0.1:4443"
    given = GCSSettings.from_parameters(
        {"bucket": "b12", "endpoint": "http://127.0.0.1:9000/"}, {"STORAGE_EMULATOR_HOST": "127.0.0.1:4443"}
    )
    assert given.endpoint == "http://127.0.0.1:9000", "the parameter wins over the variable"


def test_storage_emulator_host_alone_reaches_the_server(
    fake_gcs: servers.FakeGCSServer, bucket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs.endpoint)
    with registry_storage.create("gcs", {"bucket": bucket_name}) as driver:
        driver.put_content("/through/the/variable", b"found")
        assert driver.get_content("/through/the/variable") == b"found"


def test_a_missing_bucket_fails_at_construction_and_is_not_not_found(fake_gcs: servers.FakeGCSServer) -> None:
    with pytest.raises(StorageDriverError) as caught:
        registry_storage.create("gcs", fake_gcs.parameters("no-such-bucket"))
    assert not isinstance(caught.value, PathNotFoundError)
    assert "no-such-bucket" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_a_server_that_went_away_is_a_backend_error_with_its_cause(bucket_name: str) -> None:
    with servers.fake_gcs_server() as own:
        own.create_bucket(bucket_name)
        driver = GCSDriver(GCSSettings.from_parameters(own.parameters(bucket_name), NO_EMULATOR), retry_timeout=0.5)
        driver.put_content("/there", b"x")
    try:
        for call in (
            lambda: driver.stat("/there"),
            lambda: driver.get_content("/there"),
            lambda: driver.list("/"),
            lambda: driver.read_stream("/there"),
            lambda: driver.delete("/there"),
        ):
            with pytest.raises(StorageDriverError) as caught:
                call()
            assert not isinstance(caught.value, PathNotFoundError)
            assert caught.value.__cause__ is not None
            assert caught.value.driver == "gcs"
    finally:
        driver.close()
