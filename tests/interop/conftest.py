"""Fixtures of the interop tests: an OCI layout, a moto server, and helpers to run skopeo and registry-storage.

Every server (moto, the Go registry) listens on 127.0.0.1 and is stopped by the ``with`` block that started it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from registry_storage.testing import servers

from .images import Layout, build_layout

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

COMMAND_TIMEOUT = 300.0
PART_SIZE = 5 << 20
"""The registry's s3 chunk and multipart-copy size in these tests, so a 20 MiB layer is stored in parts."""


@pytest.fixture(scope="session")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    """The OCI image layout the registries are fed with (tags one, two and the index both)."""
    return build_layout(tmp_path_factory.mktemp("oci-layout"))


@pytest.fixture(scope="session")
def moto() -> Iterator[servers.MotoServer]:
    """A moto S3 server process on 127.0.0.1 for the session."""
    try:
        with servers.moto_server() as server:
            yield server
    except servers.ServerError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def s3_admin(moto: servers.MotoServer) -> S3Client:
    """A plain boto3 client on the moto server, to create buckets and look at objects."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        aws_access_key_id=moto.access_key,
        aws_secret_access_key=moto.secret_key,
        region_name=moto.region,
    )


def s3_storage(moto: servers.MotoServer, s3_admin: S3Client, rootdirectory: str) -> dict[str, Any]:
    """A registry ``storage:`` section for a new bucket on moto, as 2.8's s3 driver reads it."""
    bucket = f"registry-{uuid.uuid4().hex[:12]}"
    s3_admin.create_bucket(Bucket=bucket)
    return {
        "s3": {
            "bucket": bucket,
            "region": moto.region,
            "regionendpoint": moto.endpoint,
            "accesskey": moto.access_key,
            "secretkey": moto.secret_key,
            "rootdirectory": rootdirectory,
            "secure": False,
            "v4auth": True,
            "chunksize": PART_SIZE,
            "multipartcopychunksize": PART_SIZE,
            "multipartcopythresholdsize": PART_SIZE,
        },
        "delete": {"enabled": True},
        "cache": {"blobdescriptor": "inmemory"},
        "maintenance": {"uploadpurging": {"enabled": False}},
    }


def filesystem_storage(root: Path) -> dict[str, Any]:
    """A registry ``storage:`` section for a filesystem root, with the sample file's ``maxthreads``."""
    return {
        "filesystem": {"rootdirectory": str(root), "maxthreads": 100},
        "delete": {"enabled": True},
        "maintenance": {"uploadpurging": {"enabled": False}},
    }


def registry_config(tmp_path: Path, name: str, storage: dict[str, Any]) -> Path:
    """A registry configuration file holding ``storage`` (for a side no registry serves at the moment)."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"version": 0.1, "storage": storage, "http": {"addr": "127.0.0.1:5000"}}))
    return path


def run(*command: str, stdin: bytes | None = None) -> bytes:
    """Run ``command``, fail the test with its stderr unless it exits with 0, return its stdout."""
    done = subprocess.run(list(command), input=stdin, capture_output=True, timeout=COMMAND_TIMEOUT, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr.decode(errors='replace')}")
    return done.stdout


def registry_storage(*arguments: str, stdin: bytes | None = None) -> bytes:
    """Run the ``registry-storage`` console script of this environment."""
    return run(str(Path(sys.executable).with_name("registry-storage")), *arguments, stdin=stdin)


def registry_storage_json(*arguments: str) -> Any:
    return json.loads(registry_storage(*arguments, "--json"))


def push(layout: Layout, registry: servers.DockerRegistry, repository: str) -> None:
    """skopeo copies every tag of ``layout`` (the index with all its images) to ``registry``."""
    for tag in layout.tags:
        run(
            "skopeo",
            "copy",
            "--all",
            "--quiet",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout.directory}:{tag}",
            f"docker://{registry.address}/{repository}:{tag}",
        )


def served_digest(registry: servers.DockerRegistry, repository: str, tag: str) -> str:
    """The digest of the manifest ``registry`` serves for ``repository:tag``, as skopeo reports it."""
    raw = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{registry.address}/{repository}:{tag}")
    import hashlib

    return "sha256:" + hashlib.sha256(raw).hexdigest()


def pull_and_compare(layout: Layout, registry: servers.DockerRegistry, repository: str, target: Path) -> None:
    """skopeo copies every tag back from ``registry`` into an OCI layout at ``target``; each manifest digest and
    every blob must be identical to the original layout's."""
    for tag, digest in layout.tags.items():
        assert served_digest(registry, repository, tag) == digest, tag
        run(
            "skopeo",
            "copy",
            "--all",
            "--quiet",
            "--preserve-digests",
            "--src-tls-verify=false",
            f"docker://{registry.address}/{repository}:{tag}",
            f"oci:{target}:{tag}",
        )
    index = json.loads((target / "index.json").read_text())
    pulled = {
        entry["annotations"]["org.opencontainers.image.ref.name"]: entry["digest"] for entry in index["manifests"]
    }
    assert pulled == layout.tags
    for digest, blob in layout.blobs.items():
        assert (target / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes() == blob.content, digest
