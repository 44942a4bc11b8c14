"""``registry-storage sync`` from the filesystem driver to S3 (a moto server) and back, compared byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from registry_storage.driver import StorageDriver

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1 << 20
TIMEOUT = 300.0
TREE = {
    "docker/registry/v2/blobs/sha256/aa/aaaa/data": 12 * MIB + 12345,  # several multipart parts
    "docker/registry/v2/blobs/sha256/bb/bbbb/data": 300_000,
    "docker/registry/v2/repositories/hello/_manifests/tags/latest/current/link": 71,
    "docker/registry/v2/repositories/hello/_uploads/u1/startedat": 0,
}


def _sync(*arguments: str) -> dict[str, Any]:
    command = [str(Path(sys.executable).with_name("registry-storage")), "sync", "--json", *arguments]
    done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A filesystem store root holding a small registry tree with random content."""
    root = tmp_path / "source"
    for name, size in TREE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(os.urandom(size))
    return root


@pytest.fixture
def s3_config(tmp_path: Path, s3_parameters: dict[str, Any]) -> Path:
    """A registry-style configuration file whose storage: section is the S3 driver on the test bucket."""
    path = tmp_path / "s3.yml"
    path.write_text(yaml.safe_dump({"version": 0.1, "storage": {"s3": s3_parameters, "delete": {"enabled": True}}}))
    return path


def test_sync_to_s3_and_back_is_byte_for_byte(
    source: Path, s3_config: Path, s3_driver: StorageDriver, tmp_path: Path
) -> None:
    to_s3 = ["--from-driver", "filesystem", "--from-param", f"rootdirectory={source}", "--to-config", str(s3_config)]
    report = _sync(*to_s3, "--jobs", "3", "/", "/mirror")
    assert (report["copied"], report["up_to_date"], report["verified"]) == (len(TREE), 0, True)
    for name, content in _tree(source).items():
        assert s3_driver.get_content(f"/mirror/{name}") == content

    back = tmp_path / "back"
    from_s3 = ["--from-config", str(s3_config), "--from-out-of-process"]
    report = _sync(*from_s3, "--to-driver", "filesystem", "--to-param", f"rootdirectory={back}", "/mirror", "/")
    assert (report["copied"], report["verified"]) == (len(TREE), True)
    assert _tree(back) == _tree(source)

    again = _sync(*to_s3, "/", "/mirror")
    assert (again["copied"], again["up_to_date"]) == (0, len(TREE))


def test_sync_to_s3_resumes_a_partial_object(source: Path, s3_config: Path, s3_driver: StorageDriver) -> None:
    big = "docker/registry/v2/blobs/sha256/aa/aaaa/data"
    content = (source / big).read_bytes()
    partial = 7 * MIB + 3
    s3_driver.put_content(f"/{big}", content[:partial])
    to_s3 = ["--from-driver", "filesystem", "--from-param", f"rootdirectory={source}", "--to-config", str(s3_config)]
    report = _sync(*to_s3, "/", "/")
    assert (report["copied"], report["resumed"]) == (len(TREE), 1)
    assert report["bytes"] == sum(TREE.values()) - partial
    for name, expected in _tree(source).items():
        assert s3_driver.get_content(f"/{name}") == expected


def test_ls_long_and_json_describe_a_folder_placeholder(
    s3_config: Path, s3_parameters: dict[str, Any], s3_admin: S3Client
) -> None:
    s3_admin.put_object(Bucket=s3_parameters["bucket"], Key="folder/", Body=b"")  # the console's "Create folder"
    s3_admin.put_object(Bucket=s3_parameters["bucket"], Key="file", Body=b"12345")
    command = [str(Path(sys.executable).with_name("registry-storage")), "ls", "--config", str(s3_config)]
    for extra in (["-l"], ["--json"], ["-l", "-R"]):
        done = subprocess.run([*command, *extra, "/"], capture_output=True, timeout=TIMEOUT, check=False)
        assert (done.returncode, done.stderr) == (0, b""), extra
        assert b"/folder" in done.stdout
    listed = json.loads(subprocess.run([*command, "--json", "/"], capture_output=True, check=True).stdout)
    assert [(entry["path"], entry["type"]) for entry in listed] == [("/file", "file"), ("/folder", "directory")]
