"""OCI image layouts built offline: random file content in gzip'd tar layers, image configs, manifests, one index.

:func:`build_layout` writes a directory skopeo reads as ``oci:DIR:TAG``: ``oci-layout``, ``index.json`` and
``blobs/sha256/<hex>``. Two images share one layer; a third tag names an OCI image index holding both images.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIB = 1 << 20
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class Blob:
    """One content-addressed blob: its digest (``sha256:<hex>``), media type and bytes."""

    media_type: str
    content: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.content).hexdigest()

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.content), **extra}


@dataclass
class Layout:
    """What :func:`build_layout` wrote: the directory, every blob by digest, and the manifest digest of each tag."""

    directory: Path
    blobs: dict[str, Blob] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    layers: dict[str, list[str]] = field(default_factory=dict)
    """The layer digests of each image tag, in order."""

    def add(self, blob: Blob) -> Blob:
        self.blobs[blob.digest] = blob
        return blob


def _layer(rng: random.Random, sizes: list[int]) -> tuple[Blob, str]:
    """A gzip'd tar of files of random bytes with ``sizes``; returns the blob and the uncompressed diff id."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for number, size in enumerate(sizes):
            info = tarfile.TarInfo(f"data/file-{number}-{size}.bin")
            info.size = size
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(rng.randbytes(size)))
    uncompressed = tar_bytes.getvalue()
    compressed = gzip.compress(uncompressed, compresslevel=1, mtime=0)
    return Blob(LAYER_MEDIA_TYPE, compressed), "sha256:" + hashlib.sha256(uncompressed).hexdigest()


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def build_layout(directory: Path, seed: int = 12) -> Layout:
    """Write an OCI image layout to ``directory``: tags ``one`` and ``two`` (images sharing their first layer) and
    ``both`` (an OCI image index of the two). Files are 1 to 20 MiB of random bytes, so layers do not compress."""
    rng = random.Random(seed)
    layout = Layout(directory)
    shared = _layer(rng, [1 * MIB, 3 * MIB + 517])
    own = {"one": _layer(rng, [20 * MIB]), "two": _layer(rng, [2 * MIB + 99, 1 * MIB])}
    manifests: list[tuple[str, Blob]] = []
    for tag, extra in own.items():
        layers = [shared, extra]
        config = layout.add(
            Blob(
                CONFIG_MEDIA_TYPE,
                _json(
                    {
                        "architecture": "amd64" if tag == "one" else "arm64",
                        "os": "linux",
                        "config": {"Labels": {"tag": tag}},
                        "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
                    }
                ),
            )
        )
        for blob, _ in layers:
            layout.add(blob)
        manifest = layout.add(
            Blob(
                MANIFEST_MEDIA_TYPE,
                _json(
                    {
                        "schemaVersion": 2,
                        "mediaType": MANIFEST_MEDIA_TYPE,
                        "config": config.descriptor(),
                        "layers": [blob.descriptor() for blob, _ in layers],
                    }
                ),
            )
        )
        layout.tags[tag] = manifest.digest
        layout.layers[tag] = [blob.digest for blob, _ in layers]
        manifests.append((tag, manifest))
    platforms = {"one": "amd64", "two": "arm64"}
    index = layout.add(
        Blob(
            INDEX_MEDIA_TYPE,
            _json(
                {
                    "schemaVersion": 2,
                    "mediaType": INDEX_MEDIA_TYPE,
                    "manifests": [
                        manifest.descriptor(platform={"architecture": platforms[tag], "os": "linux"})
                        for tag, manifest in manifests
                    ],
                }
            ),
        )
    )
    layout.tags["both"] = index.digest
    _write(layout, {"one": manifests[0][1], "two": manifests[1][1], "both": index})
    return layout


def _write(layout: Layout, tagged: dict[str, Blob]) -> None:
    blobs = layout.directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for digest, blob in layout.blobs.items():
        (blobs / digest.removeprefix("sha256:")).write_bytes(blob.content)
    (layout.directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [
            blob.descriptor(annotations={"org.opencontainers.image.ref.name": tag}) for tag, blob in tagged.items()
        ],
    }
    (layout.directory / "index.json").write_text(json.dumps(index))
    os.sync()
