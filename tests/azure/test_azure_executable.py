"""The Azure driver out of process: ``registry-storage-azure`` reaching Azurite through ``serviceurl``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from azure.storage.blob import ContainerClient

import registry_storage
from registry_storage.client import ProxyDriver
from registry_storage.errors import PathNotFoundError
from registry_storage.factory import find_executable

if TYPE_CHECKING:
    from tests.azure.conftest import Azurite


def test_registry_storage_azure_reaches_azurite_through_serviceurl(
    azurite: Azurite, azure_parameters: dict[str, Any], container: ContainerClient
) -> None:
    with registry_storage.create("azure", azure_parameters, out_of_process=True) as driver:
        assert isinstance(driver, ProxyDriver)
        command_line = Path(f"/proc/{driver.pid}/cmdline").read_bytes().decode()
        assert "registry-storage-azure" in command_line
        assert azurite.service_url in command_line
        assert azurite.account_key not in command_line, "the key travels in the parameters file, not argv"
        driver.put_content("/from/child", b"over the protocol")
        driver.write_stream("/from/child", 4, [b" the wire"])
        assert driver.get_content("/from/child") == b"over the wire"
        assert driver.list("/from") == ["/from/child"]
        with pytest.raises(PathNotFoundError):
            driver.stat("/from/missing")
        assert "sig=" in driver.url_for("/from/child")
    assert container.get_blob_client("from/child").download_blob().readall() == b"over the wire"


def test_registry_storage_azure_names_a_bad_parameter_and_exits(azurite: Azurite) -> None:
    executable = find_executable("azure")
    assert executable is not None, "registry-storage-azure is not installed"
    parameters = azurite.parameters("Not_A_Container")
    result = subprocess.run(
        [executable, json.dumps(parameters)],
        stdin=subprocess.PIPE,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "container" in result.stderr
    assert azurite.account_key not in result.stderr
    assert result.stdout == ""
