"""Store, stream, list and delete through a driver: the main job of the quick start."""

from __future__ import annotations

import io
import tempfile

import registry_storage


def main() -> None:
    """Run the demo against the filesystem driver in a temporary directory."""
    with (
        tempfile.TemporaryDirectory() as root,
        registry_storage.create("filesystem", {"rootdirectory": root}) as driver,
    ):
        driver.put_content("/docker/registry/v2/repositories/hello/_manifests/tags/latest/current/link", b"sha256:abc")
        written = driver.write_stream("/docker/registry/v2/blobs/data", 0, io.BytesIO(b"layer bytes " * 1000))
        print(f"wrote {written} bytes by stream")
        with driver.read_stream("/docker/registry/v2/blobs/data", offset=6) as stream:
            print(f"read from offset 6: {stream.read(12)!r}")
        for info in driver.walk("/"):
            kind = "dir " if info.is_dir else "file"
            print(f"{kind} {info.size:>8} {info.path}")
        driver.delete("/docker")
        print(f"after delete, list('/') = {driver.list('/')}")


if __name__ == "__main__":
    main()
