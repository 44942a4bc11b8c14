"""The GCS driver out of process: ``registry-storage-gcs`` reaching fake-gcs-server through ``endpoint``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import registry_storage
from registry_storage.client import ProxyDriver
from registry_storage.errors import PathNotFoundError
from registry_storage.factory import find_executable
from registry_storage.testing.servers import FakeGCSServer


def test_registry_storage_gcs_reaches_the_server_through_endpoint(
    fake_gcs: FakeGCSServer, gcs_parameters: dict[str, Any], service_account_key: dict[str, str], gcs_bucket: Any
) -> None:
    parameters = {**gcs_parameters, "credentials": service_account_key}
    with registry_storage.create("gcs", parameters, out_of_process=True) as driver:
        assert isinstance(driver, ProxyDriver)
        command_line = Path(f"/proc/{driver.pid}/cmdline").read_bytes().decode()
        assert "registry-storage-gcs" in command_line
        assert fake_gcs.endpoint in command_line
        assert service_account_key["private_key"] not in command_line, "the key travels in the parameters file"
        driver.put_content("/from/child", b"over the protocol")
        driver.write_stream("/from/child", 4, [b" the wire"])
        assert driver.get_content("/from/child") == b"over the wire"
        assert driver.list("/from") == ["/from/child"]
        with pytest.raises(PathNotFoundError):
            driver.stat("/from/missing")
        assert "X-Goog-Signature=" in driver.url_for("/from/child")
    assert gcs_bucket.blob("from/child").download_as_bytes() == b"over the wire"


def test_registry_storage_gcs_names_a_bad_parameter_and_exits(service_account_key: dict[str, str]) -> None:
    executable = find_executable("gcs")
    assert executable is not None, "registry-storage-gcs is not installed"
    broken = {**service_account_key, "type": "user"}
    result = subprocess.run(
        [executable, json.dumps({"bucket": "registry", "chunksize": 1000, "credentials": broken})],
        stdin=subprocess.PIPE,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "chunksize" in result.stderr
    assert service_account_key["private_key"] not in result.stderr
    assert result.stdout == ""
