"""Parameters of the Azure driver: registry-style names, errors naming the parameter, secrets kept out of sight."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from azure.storage.blob import ContainerClient

import registry_storage
from registry_storage.drivers.azure import AzureDriver, AzureSettings
from registry_storage.errors import InvalidParameterError, InvalidStorageDriverError, StorageDriverError

if TYPE_CHECKING:
    from tests.azure.conftest import Azurite

SOME_KEY = "c29tZS1hY2NvdW50LWtleS1mb3ItcGFyYW1ldGVyLWNoZWNrcw=="
WRONG_KEY = "c2VjcmV0LWtleS10aGF0LWlzLXdyb25nLWJ1dC1sb29rcy1maW5lLTEyMzQ1Njc4OQ=="


def _rejected(parameters: dict[str, Any]) -> InvalidParameterError:
    with pytest.raises(InvalidParameterError) as caught:
        registry_storage.create("azure", parameters)
    return caught.value


BASE = {"accountname": "devstoreaccount1", "accountkey": SOME_KEY, "container": "registry"}


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"container": None}, "container"),
        ({"container": "Upper"}, "container"),
        ({"container": "ab"}, "container"),
        ({"container": "a--b"}, "container"),
        ({"container": "-ab"}, "container"),
        ({"accountname": None}, "accountname"),
        ({"accountkey": None}, "accountkey"),
        ({"accountkey": "not base64!"}, "accountkey"),
        ({"serviceurl": "ftp://127.0.0.1/devstoreaccount1"}, "serviceurl"),
        ({"serviceurl": "http://127.0.0.1:1/x?sig=abc"}, "serviceurl"),
        ({"rootdirectory": "/a/../b"}, "rootdirectory"),
        ({"rootdirectory": "a b"}, "rootdirectory"),
        ({"realm": " "}, "realm"),
        ({"blocksize": 1024}, "blocksize"),
        ({"blocksize": "lots"}, "blocksize"),
        ({"maxconcurrency": 0}, "maxconcurrency"),
        ({"maxretries": -1}, "maxretries"),
        ({"credentials": {"type": "client_secret"}}, "credentials"),
        ({"connectionstring": "AccountName=x;AccountKey=" + SOME_KEY}, "connectionstring"),
    ],
)
def test_a_bad_parameter_is_named_in_the_error(changes: dict[str, Any], parameter: str) -> None:
    parameters = {key: value for key, value in {**BASE, **changes}.items() if value is not None}
    error = _rejected(parameters)
    assert error.parameter == parameter
    assert error.driver == "azure"
    assert SOME_KEY not in str(error)


@pytest.mark.parametrize(
    "connection_string",
    [
        "just some text",
        "AccountName=devstoreaccount1;AccountKey=%%%",
        "AccountName=devstoreaccount1;Password=hunter2",
        "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1",
    ],
)
def test_a_malformed_connection_string_is_rejected_without_echoing_it(connection_string: str) -> None:
    error = _rejected({"connectionstring": connection_string, "container": "registry"})
    assert error.parameter == "connectionstring"
    for secret in ("%%%", "hunter2", "just some text"):
        assert secret not in str(error)


def test_the_endpoint_defaults_to_the_account_in_the_realm() -> None:
    settings = AzureSettings.from_parameters({**BASE, "realm": "core.chinacloudapi.cn"})
    assert settings.account_url == "https://devstoreaccount1.blob.core.chinacloudapi.cn"
    assert AzureSettings.from_parameters(BASE).account_url == "https://devstoreaccount1.blob.core.windows.net"
    overridden = AzureSettings.from_parameters({**BASE, "serviceurl": "http://127.0.0.1:10000/devstoreaccount1/"})
    assert overridden.account_url == "http://127.0.0.1:10000/devstoreaccount1"
    assert (
        AzureSettings.from_parameters({**BASE, "rootdirectory": "/docker/registry/"}).blob_prefix == "docker/registry/"
    )
    assert AzureSettings.from_parameters(BASE).blob_prefix == ""


def test_secrets_never_show_in_reprs_or_logs(
    azurite: Azurite, azure_parameters: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with registry_storage.create("azure", azure_parameters) as driver:
        driver.put_content("/secret/probe", b"x")
        url = driver.url_for("/secret/probe")
        driver.delete("/secret")
        assert isinstance(driver, AzureDriver)
        texts = [repr(driver), repr(driver.settings), caplog.text]
    assert "sig=" in url
    for text in texts:
        assert azurite.account_key not in text
        assert azurite.account_key[:20] not in text
    assert "***" in texts[1]


def test_a_connection_string_replaces_name_and_key(azurite: Azurite, container: ContainerClient) -> None:
    parameters = {"connectionstring": azurite.connection_string, "container": container.container_name}
    with registry_storage.create("azure", parameters) as driver:
        driver.put_content("/hello", b"world")
        assert driver.get_content("/hello") == b"world"
        assert isinstance(driver, AzureDriver)
        assert azurite.account_key not in repr(driver) + repr(driver.settings)
    assert container.exists()


def test_a_connection_string_with_name_and_key_is_ambiguous(azurite: Azurite) -> None:
    error = _rejected({**azurite.parameters("registry"), "connectionstring": azurite.connection_string})
    assert error.parameter == "connectionstring"
    assert azurite.account_key not in str(error)


def test_the_container_is_created_when_missing_and_reused_when_present(
    azure_parameters: dict[str, Any], container: ContainerClient
) -> None:
    assert not container.exists()
    with registry_storage.create("azure", azure_parameters) as driver:
        driver.put_content("/kept", b"1")
    assert container.exists()
    with registry_storage.create("azure", azure_parameters) as driver:
        assert driver.get_content("/kept") == b"1"


def test_a_wrong_key_is_reported_as_a_bad_accountkey(azurite: Azurite, container: ContainerClient) -> None:
    error = _rejected(azurite.parameters(container.container_name, accountkey=WRONG_KEY, maxretries=0))
    assert error.parameter == "accountkey"
    assert WRONG_KEY not in str(error)


def test_an_unreachable_service_is_a_storage_error_not_a_bad_parameter() -> None:
    parameters = {**BASE, "serviceurl": "http://127.0.0.1:9/devstoreaccount1", "maxretries": 0}
    with pytest.raises(StorageDriverError) as caught:
        registry_storage.create("azure", parameters)
    assert not isinstance(caught.value, InvalidParameterError)
    assert "127.0.0.1:9" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_the_package_imports_without_the_sdk_and_the_factory_names_the_extra() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["azure"] = None  # as if the [azure] extra were not installed
        import registry_storage
        import registry_storage.drivers.azure
        from registry_storage.errors import InvalidStorageDriverError
        assert "azure.storage.blob" not in sys.modules
        try:
            registry_storage.create("azure", {"accountname": "a", "accountkey": "a2V5", "container": "registry"})
        except InvalidStorageDriverError as error:
            print(error.name, "|", error.reason)
        else:
            raise SystemExit("created a driver without the SDK")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env={**os.environ}, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("azure |")
    assert "registry-storage[azure]" in result.stdout
    assert InvalidStorageDriverError.__name__ == "InvalidStorageDriverError"


def test_importing_the_package_does_not_import_the_sdk() -> None:
    script = (
        "import sys, registry_storage.drivers.azure; print(sorted(m for m in sys.modules if m.startswith('azure')))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
