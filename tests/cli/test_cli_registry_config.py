"""A registry's own configuration is understood: its whole file, its parameters and value forms, its overrides."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import registry_storage
from registry_storage.cli.registry_config import apply_environment, read_registry_config
from registry_storage.cli.usage import UsageError
from registry_storage.drivers.azure import AzureSettings
from registry_storage.drivers.s3 import S3Driver, S3Settings

if TYPE_CHECKING:
    from tests.cli.conftest import Cli
SOME_KEY = "c29tZSBrZXk="

REGISTRY_FILE = """\
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: {root}
    maxthreads: 100
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
  redirect:
    disable: true
  tag:
    concurrencylimit: 8
http:
  addr: 127.0.0.1:5000
  headers:
    X-Content-Type-Options: [nosniff]
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "root"
    directory.mkdir()
    (directory / "hello").write_bytes(b"world")
    return directory


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yml"
    path.write_text(text)
    return str(path)


def test_the_registrys_sample_file_with_maxthreads_is_served(cli: Cli, root: Path, tmp_path: Path) -> None:
    config = _write(tmp_path, REGISTRY_FILE.format(root=root))
    outcome = cli("cat", "--config", config, "/hello")
    assert (outcome.status, outcome.stdout, outcome.stderr) == (0, b"world", "")


def test_an_environment_override_applies_over_the_file(
    cli: Cli, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write(tmp_path, REGISTRY_FILE.format(root=tmp_path / "elsewhere"))
    monkeypatch.setenv("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", str(root))
    outcome = cli("cat", "--config", config, "/hello")
    assert (outcome.status, outcome.stdout) == (0, b"world")


def test_an_empty_param_removes_a_key_of_the_file(cli: Cli, root: Path, tmp_path: Path) -> None:
    config = _write(tmp_path, f"storage:\n  filesystem:\n    rootdirectory: {root}\n    colour: blue\n")
    refused = cli("cat", "--config", config, "/hello")
    assert refused.status == 2
    assert "parameter 'colour': unknown parameter" in refused.stderr
    outcome = cli("cat", "--config", config, "--param", "colour=", "/hello")
    assert (outcome.status, outcome.stdout) == (0, b"world")


def test_two_driver_sections_are_refused_naming_them(tmp_path: Path) -> None:
    config = _write(tmp_path, "storage:\n  s3: {bucket: b}\n  filesystem: {}\n  delete: {enabled: true}\n")
    with pytest.raises(UsageError, match="exactly one driver, found filesystem, s3"):
        read_registry_config(config, {})


def test_a_driver_named_by_the_environment_replaces_the_section(tmp_path: Path) -> None:
    config = _write(tmp_path, "storage:\n  filesystem:\n    rootdirectory: /x\n")
    environ = {
        "REGISTRY_STORAGE": "s3",
        "REGISTRY_STORAGE_S3_BUCKET": "registry",
        "REGISTRY_STORAGE_S3_ACCESSKEY": "AKIA",
        "REGISTRY_STORAGE_S3_SECRETKEY": "secret",
        "REGISTRY_HTTP_ADDR": "127.0.0.1:1",
    }
    assert read_registry_config(config, environ) == (
        "s3",
        {"bucket": "registry", "accesskey": "AKIA", "secretkey": "secret"},
    )


def test_overrides_match_keys_case_insensitively_and_nest_at_each_underscore() -> None:
    storage: dict[str, Any] = {"S3": {"Bucket": "old"}, "maintenance": None}
    environ = {
        "REGISTRY_STORAGE_S3_BUCKET": "new",
        "REGISTRY_STORAGE_S3_CHUNKSIZE": "0x500000",
        "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED": "false",
        "REGISTRY_STORAGE_S3_REGION": "",
    }
    assert apply_environment(storage, environ) == {
        "S3": {"bucket": "new", "chunksize": "0x500000", "region": None},
        "maintenance": {"uploadpurging": {"enabled": "false"}},
    }


def test_a_plain_driver_name_is_a_storage_section(tmp_path: Path) -> None:
    assert read_registry_config(_write(tmp_path, "storage: inmemory\n"), {}) == ("inmemory", {})
    assert read_registry_config(_write(tmp_path, "storage:\n  inmemory:\n"), {}) == ("inmemory", {})


def test_s3aws_is_the_s3_driver_with_every_registry_parameter() -> None:
    parameters = {
        "bucket": "registry",
        "region": "us-east-1",
        "regionendpoint": "http://127.0.0.1:1",
        "chunksize": "0x500000",
        "multipartcopychunksize": "0o400000000",
        "useragent": "registry-storage-test",
        "usefipsendpoint": "false",
        "redirectendpoint": "https://cdn.example.com",
        "loglevel": "debug",
        "v4auth": "true",
        "encrypt": "false",
        "secure": "t",
        "storageclass": "STANDARD",
    }
    driver = registry_storage.create("s3aws", parameters)
    try:
        assert isinstance(driver, S3Driver)
        assert driver.settings.chunksize == 0x500000
        assert driver.settings.multipartcopychunksize == 64 << 20
        assert driver.settings.useragent == "registry-storage-test"
    finally:
        driver.close()


def test_unknown_s3_names_are_still_refused() -> None:
    with pytest.raises(registry_storage.InvalidParameterError) as caught:
        S3Settings.from_parameters({"bucket": "b", "pathstyle": "true"})
    assert caught.value.parameter == "pathstyle"


def test_azure_takes_the_registry_3_spellings() -> None:
    settings = AzureSettings.from_parameters(
        {
            "accountname": "account",
            "accountkey": SOME_KEY,
            "container": "registry",
            "max_retries": "0x3",
            "retry_delay": "100ms",
            "skipverify": True,
            "credentials": {"type": "shared_key"},
        }
    )
    assert settings.maxretries == 3


@pytest.mark.parametrize("command", [["ls", "/"], ["du", "/"], ["ls", "-R", "/"]])
def test_a_read_command_on_a_missing_filesystem_root_says_so(cli: Cli, tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "typo"
    outcome = cli(*command[:-1], "--driver", "filesystem", "--param", f"rootdirectory={missing}", command[-1])
    assert outcome.status == 0
    assert f"filesystem root {missing} does not exist" in outcome.stderr
    again = cli(*command[:-1], "--driver", "filesystem", "--param", f"rootdirectory={tmp_path}", command[-1])
    assert again.stderr == ""


def test_sync_from_a_missing_filesystem_root_says_so(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    outcome = cli(
        "sync", "-q", "--driver", "filesystem", "--from-param", f"rootdirectory={missing}",
        "--to-param", f"rootdirectory={tmp_path / 'to'}", "/", "/",
    )  # fmt: skip
    assert f"filesystem root {missing} does not exist" in outcome.stderr
