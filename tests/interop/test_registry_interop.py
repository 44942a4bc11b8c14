"""registry-storage against the real registry (Debian's docker-registry, distribution 2.8) and a real client (skopeo).

Images from an offline OCI layout are pushed by skopeo to a registry on one store; registry-storage lists, sums,
copies and edits that store with the registry's own configuration file; a second registry serves the copy, and skopeo
pulls every image back with identical digests.
"""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import registry_storage as rs
from registry_storage.cli.registry_config import read_registry_config
from registry_storage.testing import servers

from .conftest import (
    PART_SIZE,
    filesystem_storage,
    pull_and_compare,
    push,
    registry_config,
    registry_storage,
    registry_storage_json,
    s3_storage,
    served_digest,
)
from .images import Layout

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

V2 = "/docker/registry/v2"
REPOSITORY = "library/app"
UPLOAD_BYTES = b"half of a layer " * 4096


def blob_data(digest: str) -> str:
    hex_digest = digest.removeprefix("sha256:")
    return f"{V2}/blobs/sha256/{hex_digest[:2]}/{hex_digest}/data"


def tag_link(tag: str) -> str:
    return f"{V2}/repositories/{REPOSITORY}/_manifests/tags/{tag}/current/link"


def revision_link(digest: str) -> str:
    return f"{V2}/repositories/{REPOSITORY}/_manifests/revisions/sha256/{digest.removeprefix('sha256:')}/link"


def start_upload(registry: servers.DockerRegistry) -> str:
    """Begin a blob upload with a POST and send one PATCH of data, never finishing it; return the upload's id."""
    opened = urllib.request.Request(f"{registry.url}/v2/{REPOSITORY}/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(opened, timeout=30) as response:
        assert response.status == 202
        location = response.headers["Location"]
        upload = response.headers["Docker-Upload-UUID"]
    url = location if location.startswith("http") else registry.url + location
    patch = urllib.request.Request(
        url, method="PATCH", data=UPLOAD_BYTES, headers={"Content-Type": "application/octet-stream"}
    )
    with urllib.request.urlopen(patch, timeout=30) as response:
        assert response.status == 202
    return str(upload)


def listing(config: Path, path: str) -> dict[str, dict[str, Any]]:
    """``registry-storage ls -R --json`` of ``path`` in the store of ``config``, by path."""
    return {entry["path"]: entry for entry in registry_storage_json("ls", "-R", "--config", str(config), path)}


def check_blobs(config: Path, layout: Layout) -> None:
    """Every blob of the store is listed under its digest, its sha256 is that digest, and every pushed blob is there."""
    entries = listing(config, f"{V2}/blobs")
    data = sorted(path for path, entry in entries.items() if entry["type"] == "file")
    assert data, entries
    digests = set()
    for path in data:
        assert path.endswith("/data"), path
        hex_digest = path.split("/")[-2]
        content = registry_storage("cat", "--config", str(config), path)
        assert hashlib.sha256(content).hexdigest() == hex_digest, path
        digests.add(f"sha256:{hex_digest}")
    assert digests == set(layout.blobs)


def check_upload(config: Path, upload: str) -> dict[str, int]:
    """The in-progress upload's files in the store of ``config``: its data holds what the PATCH sent."""
    base = f"{V2}/repositories/{REPOSITORY}/_uploads/{upload}"
    files = {path: entry["size"] for path, entry in listing(config, base).items() if entry["type"] == "file"}
    assert files[f"{base}/data"] == len(UPLOAD_BYTES)
    assert f"{base}/startedat" in files
    assert registry_storage("cat", "--config", str(config), f"{base}/data") == UPLOAD_BYTES
    return files


def test_a_filesystem_store_synced_to_s3_is_served_from_there(
    layout: Layout, moto: servers.MotoServer, s3_admin: S3Client, tmp_path: Path
) -> None:
    s3 = s3_storage(moto, s3_admin, "/registry/copy/")
    with servers.docker_registry(filesystem_storage(tmp_path / "store")) as source:
        push(layout, source, REPOSITORY)
        upload = start_upload(source)
        check_blobs(source.config, layout)
        usage = registry_storage_json("du", "--config", str(source.config), "/")
        on_disk = [path for path in (tmp_path / "store").rglob("*") if path.is_file()]
        assert (usage["bytes"], usage["files"]) == (sum(path.stat().st_size for path in on_disk), len(on_disk))
        uploaded = check_upload(source.config, upload)
        destination = registry_config(tmp_path, "s3.yml", s3)
        registry_storage("sync", "-q", "--from-config", str(source.config), "--to-config", str(destination), "/", "/")
    assert check_upload(destination, upload) == uploaded
    keys = [entry["Key"] for entry in s3_admin.list_objects_v2(Bucket=s3["s3"]["bucket"])["Contents"]]
    assert all(key.startswith("registry/copy/docker/registry/v2/") for key in keys)
    with servers.docker_registry(s3) as copy:
        assert served_digest(copy, REPOSITORY, "one") == layout.tags["one"]
        pull_and_compare(layout, copy, REPOSITORY, tmp_path / "pulled")
        # a tag link written by registry-storage is served by the registry
        link = tmp_path / "link"
        link.write_bytes(layout.tags["two"].encode())
        registry_storage("put", "-q", "--config", str(copy.config), str(link), tag_link("written"))
        index_link = f"{V2}/repositories/{REPOSITORY}/_manifests/tags/written/index/sha256/"
        registry_storage(
            "put", "-q", "--config", str(copy.config), str(link), index_link + layout.tags["two"][7:] + "/link"
        )
        assert served_digest(copy, REPOSITORY, "written") == layout.tags["two"]
        with urllib.request.urlopen(f"{copy.url}/v2/{REPOSITORY}/tags/list", timeout=30) as response:
            assert "written" in response.read().decode()


def test_an_s3_store_read_by_the_api_and_synced_to_a_filesystem_is_served_from_there(
    layout: Layout, moto: servers.MotoServer, s3_admin: S3Client, tmp_path: Path
) -> None:
    s3 = s3_storage(moto, s3_admin, "/s3/registry/")
    target = tmp_path / "target"
    with servers.docker_registry(s3) as source:
        push(layout, source, REPOSITORY)
        entries = listing(source.config, "/")
        assert tag_link("both") in entries
        usage = registry_storage_json("du", "--config", str(source.config), "/")
        assert usage["files"] == sum(entry["type"] == "file" for entry in entries.values())
        assert usage["bytes"] == sum(entry["size"] for entry in entries.values())
        check_blobs(source.config, layout)
        name, parameters = read_registry_config(str(source.config), {})
        for out_of_process in (False, True):
            with rs.create(name, parameters, out_of_process=out_of_process) as driver:
                check_registry_files(driver, layout, s3_admin, s3["s3"]["bucket"])
        destination = registry_config(tmp_path, "filesystem.yml", filesystem_storage(target))
        registry_storage("sync", "-q", "--from-config", str(source.config), "--to-config", str(destination), "/", "/")
    with servers.docker_registry(filesystem_storage(target)) as copy:
        pull_and_compare(layout, copy, REPOSITORY, tmp_path / "pulled")


def check_registry_files(driver: rs.StorageDriver, layout: Layout, s3_admin: S3Client, bucket: str) -> None:
    """Tag links, revision links and manifests read through ``driver`` match the layout skopeo pushed; a ranged
    read across a part boundary of the 20 MiB layer returns the layer's bytes."""
    for tag, digest in layout.tags.items():
        assert driver.get_content(tag_link(tag)).decode() == digest
        assert driver.get_content(revision_link(digest)).decode() == digest
        assert driver.get_content(blob_data(digest)) == layout.blobs[digest].content
    big = max(layout.blobs.values(), key=lambda blob: len(blob.content))
    key = "s3/registry" + blob_data(big.digest)
    etag = s3_admin.head_object(Bucket=bucket, Key=key)["ETag"]
    assert etag.strip('"').endswith(f"-{-(-len(big.content) // PART_SIZE)}"), etag  # stored in 5 MiB parts
    boundary = PART_SIZE
    with driver.read_stream(blob_data(big.digest), boundary - 1000) as stream:
        assert stream.read(2000) == big.content[boundary - 1000 : boundary + 1000]
    assert driver.stat(blob_data(big.digest)).size == len(big.content)
