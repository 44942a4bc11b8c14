"""The S3 driver's parameters: registry-style names, JSON values or strings, clear errors, hidden secrets."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
from typing import Any

import pytest

import registry_storage
from registry_storage.errors import InvalidParameterError

MIB = 1 << 20
GIB = 1 << 30
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
ACCESS = "AKIAIOSFODNN7EXAMPLE"


def _settings(parameters: dict[str, Any]) -> Any:
    """The checked settings (the package is imported by name: it is installed under registry_storage)."""
    return importlib.import_module("registry_storage.drivers.s3").S3Settings.from_parameters(parameters)


def test_defaults_follow_the_registry_configuration() -> None:
    settings = _settings({"bucket": "b"})

    assert settings.chunksize == 10 * MIB
    assert settings.multipartcopychunksize == 32 * MIB
    assert settings.multipartcopymaxconcurrency == 100
    assert settings.multipartcopythresholdsize == 32 * MIB
    assert settings.storageclass == "STANDARD"
    assert settings.secure is True
    assert settings.skipverify is False
    assert settings.encrypt is False
    assert settings.forcepathstyle is False
    assert settings.rootdirectory == ""
    assert settings.accesskey is None


def test_values_may_be_json_values_or_strings() -> None:
    as_json = _settings({"bucket": "b", "secure": False, "chunksize": 6 * MIB, "encrypt": True, "keyid": "k"})
    as_strings = _settings(
        {"bucket": "b", "secure": "false", "chunksize": str(6 * MIB), "encrypt": "true", "keyid": "k"}
    )

    assert as_json == as_strings
    assert as_json.secure is False
    assert as_json.chunksize == 6 * MIB


@pytest.mark.parametrize(
    ("parameters", "named", "mentions"),
    [
        ({"bucket": "b", "chunksize": 5 * MIB - 1}, "chunksize", f"{5 * MIB}..{5 * GIB}"),
        ({"bucket": "b", "chunksize": 5 * GIB + 1}, "chunksize", f"{5 * MIB}..{5 * GIB}"),
        ({"bucket": "b", "chunksize": "ten"}, "chunksize", "integer"),
        ({"bucket": "b", "multipartcopychunksize": 1}, "multipartcopychunksize", f"{5 * MIB}..{5 * GIB}"),
        ({"bucket": "b", "multipartcopymaxconcurrency": 0}, "multipartcopymaxconcurrency", "1..1000"),
        ({"bucket": "b", "multipartcopythresholdsize": 6 * GIB}, "multipartcopythresholdsize", f"0..{5 * GIB}"),
        ({"bucket": "b", "secure": "maybe"}, "secure", "boolean"),
        ({"bucket": "b", "storageclass": "COLD"}, "storageclass", "STANDARD_IA"),
        ({"bucket": "b", "keyid": "k"}, "keyid", "encrypt"),
        ({"bucket": "b", "accesskey": ACCESS}, "secretkey", "both"),
        ({"bucket": "b", "v4auth": False}, "v4auth", "true"),
        ({"bucket": "b", "bucketname": "x"}, "bucketname", "unknown"),
        ({"region": "us-east-1"}, "bucket", "required"),
    ],
)
def test_a_bad_value_names_the_parameter_and_what_is_allowed(
    parameters: dict[str, Any], named: str, mentions: str
) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        registry_storage.create("s3", parameters)

    assert raised.value.parameter == named
    assert mentions in str(raised.value)


def test_secrets_never_show_in_reprs_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    parameters = {"bucket": "b", "accesskey": ACCESS, "secretkey": SECRET, "sessiontoken": SECRET + "-token"}
    with caplog.at_level(logging.DEBUG, logger="registry_storage"):
        settings = _settings(parameters)
        with registry_storage.create("s3", parameters) as driver:
            shown = [repr(settings), str(settings), repr(driver)]
        with pytest.raises(InvalidParameterError) as raised:
            registry_storage.create("s3", {**parameters, "chunksize": 1})
        shown.append(str(raised.value))

    shown.append(caplog.text)
    for text in shown:
        assert SECRET not in text
        assert ACCESS not in text
    assert "***" in repr(settings)


def test_the_package_imports_without_boto3_and_the_factory_names_the_extra() -> None:
    program = (
        "import sys\n"
        "sys.modules['boto3'] = None\n"
        "sys.modules['botocore'] = None\n"
        "import registry_storage, registry_storage.drivers.s3\n"
        "try:\n"
        "    registry_storage.create('s3', {'bucket': 'b'})\n"
        "except registry_storage.InvalidStorageDriverError as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("InvalidStorageDriverError")
    assert "registry-storage[s3]" in result.stdout


def test_importing_the_package_does_not_import_boto3() -> None:
    program = "import sys, registry_storage.drivers.s3; print(sorted(m for m in sys.modules if m.startswith('boto')))"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)

    assert result.stdout.strip() == "[]"
