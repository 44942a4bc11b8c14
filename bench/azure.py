"""Azure benchmark: the Azure driver through the client proxy, against the same driver in process and the
azure-storage-blob SDK's own upload and download, all on one in-memory Azurite on 127.0.0.1 that the script starts
(telemetry off) and always stops.

Cases, each moving ``--size`` MiB (default 256) once per run, every case run ``--runs`` times (default 3,
interleaved) and the median time kept:

- upload: ``write_stream`` from a generator of 1 MiB chunks, through the proxy (``registry-storage-azure`` child)
  and in process (4 MiB blocks, 4 staged at once: the driver's defaults); the SDK's ``upload_blob`` from a generator
  of the same chunks, with its default ``max_concurrency`` (1) and with 4, the driver's;
- download: ``read_stream`` (one streamed GET) drained with ``readinto`` into one reused 1 MiB buffer, through the
  proxy and in process; the SDK's ``download_blob().readinto(sink)`` into a sink that discards, with its default
  ``max_concurrency`` (1) and with 4;
- obstore (Rust's object_store, the fastest Python object-store client measured here): ``put`` from the same
  generator (its defaults: 5 MiB blocks, 12 at once) and ``get`` streamed in 1 MiB chunks.

The table gives MB/s, CPU seconds (this process, + the driver's child) and, per direction, proxy time / case time;
the target is the proxy within 1.25x of the fastest library's time. One more row holds the driver in process to the
SDK's own download (the faster of its two concurrencies): at most 1.0x its time. Azurite keeps blobs in memory, so
every case gets a container of its own, deleted after it; the blob a download reads is uploaded untimed. The SDK
client has the SDK's defaults.

Usage, from the repository root with the virtualenv's Python (azure-storage-blob installed; Azurite from
``make setup`` in ``.tools/`` or ``azurite-blob`` on ``$PATH``)::

    .venv/bin/python bench/azure.py              # table, 256 MiB, median of 3 runs
    .venv/bin/python bench/azure.py --size 64 --runs 3
    .venv/bin/python bench/azure.py --json       # machine-readable: every time, the rows, the notes

The proxy case spawns ``registry-storage-azure``: it must be on ``$PATH`` or beside this Python (``.venv/bin``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import registry_storage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, home of the bench package
from bench import servers
from bench.transfers import MIB, Case, Comparison, DiscardSink, Timing, chunks, drain, measure, report, timed

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

# This file is named azure.py, and Python puts a script's folder first on sys.path, where `import azure` would find
# this file instead of the SDK (a namespace package, which any azure.py on the path shadows). The shared helpers are
# imported now: take the folder off the path, so that the SDK, imported lazily below and by the driver, is found.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]

PATH = "/bench/object"
BLOB = PATH[1:]
DRIVER_CONCURRENCY = 4
"""The driver's default ``maxconcurrency``: blocks staged or fetched at once."""


class AzureBench:
    """The cases, sharing one Azurite and one SDK client."""

    def __init__(self, azurite: servers.Azurite, size: int) -> None:
        from azure.storage.blob import BlobServiceClient

        self.azurite = azurite
        self.size = size
        self.service = BlobServiceClient(
            azurite.service_url, credential={"account_name": azurite.account_name, "account_key": azurite.account_key}
        )
        self._numbers = itertools.count(1)

    def close(self) -> None:
        self.service.close()

    @contextmanager
    def fresh_container(self, *, with_blob: bool) -> Iterator[ContainerClient]:
        """A new container (with the blob to read, uploaded untimed, when ``with_blob``); deleted afterwards."""
        container = self.service.get_container_client(f"bench-{os.getpid()}-{next(self._numbers)}")
        container.create_container()
        try:
            if with_blob:
                container.upload_blob(BLOB, chunks(self.size), max_concurrency=DRIVER_CONCURRENCY)
            yield container
        finally:
            container.delete_container()

    def driver_case(self, direction: str, *, out_of_process: bool) -> Callable[[], Timing]:
        def run() -> Timing:
            with self.fresh_container(with_blob=direction == "download") as container:
                parameters = self.azurite.parameters(container.container_name)
                with registry_storage.create("azure", parameters, out_of_process=out_of_process) as driver:
                    if direction == "upload":
                        return timed(lambda: driver.write_stream(PATH, 0, chunks(self.size)), self.size, driver)
                    return timed(lambda: drain(driver, PATH), self.size, driver)

        return run

    def sdk_upload(self, concurrency: int | None) -> Callable[[], Timing]:
        options: dict[str, Any] = {} if concurrency is None else {"max_concurrency": concurrency}

        def run() -> Timing:
            with self.fresh_container(with_blob=False) as container:
                blob = container.get_blob_client(BLOB)

                def upload() -> int:
                    blob.upload_blob(chunks(self.size), **options)
                    return int(blob.get_blob_properties().size)

                return timed(upload, self.size)

        return run

    def sdk_download(self, concurrency: int | None) -> Callable[[], Timing]:
        options: dict[str, Any] = {} if concurrency is None else {"max_concurrency": concurrency}

        def run() -> Timing:
            with self.fresh_container(with_blob=True) as container:
                blob = container.get_blob_client(BLOB)

                def download() -> int:
                    sink = DiscardSink()
                    blob.download_blob(**options).readinto(cast("IO[bytes]", sink))
                    return sink.written

                return timed(download, self.size)

        return run

    def obstore_store(self, container: ContainerClient) -> Any:
        """An obstore AzureStore on ``container`` of the Azurite account (plain HTTP to the local emulator)."""
        from obstore.store import AzureStore

        config = {
            "account_name": self.azurite.account_name,
            "account_key": self.azurite.account_key,
            "endpoint": self.azurite.service_url,
        }
        return AzureStore(container.container_name, config=config, client_options={"allow_http": True})  # type: ignore[arg-type]

    def obstore_upload(self) -> Timing:
        import obstore

        with self.fresh_container(with_blob=False) as container:
            store = self.obstore_store(container)

            def upload() -> int:
                obstore.put(store, BLOB, chunks(self.size))
                return int(obstore.head(store, BLOB)["size"])

            return timed(upload, self.size)

    def obstore_download(self) -> Timing:
        import obstore

        with self.fresh_container(with_blob=True) as container:
            store = self.obstore_store(container)

            def download() -> int:
                return sum(len(piece) for piece in obstore.get(store, BLOB).stream(min_chunk_size=MIB))

            return timed(download, self.size)

    def cases(self) -> list[Case]:
        c = DRIVER_CONCURRENCY
        return [
            Case(
                "proxy-upload",
                "upload",
                "proxy -> azure driver write_stream",
                "proxy",
                self.driver_case("upload", out_of_process=True),
            ),
            Case(
                "driver-upload",
                "upload",
                "azure driver in process",
                "driver",
                self.driver_case("upload", out_of_process=False),
            ),
            Case("sdk-upload", "upload", "SDK upload_blob (default max_concurrency=1)", "sdk", self.sdk_upload(None)),
            Case(f"sdk-upload-c{c}", "upload", f"SDK upload_blob (max_concurrency={c})", "sdk", self.sdk_upload(c)),
            Case("obstore-upload", "upload", "obstore put (5 MiB blocks, 12 at once)", "sdk", self.obstore_upload),
            Case(
                "proxy-download",
                "download",
                "proxy -> azure driver read_stream",
                "proxy",
                self.driver_case("download", out_of_process=True),
            ),
            Case(
                "driver-download",
                "download",
                "azure driver in process",
                "driver",
                self.driver_case("download", out_of_process=False),
            ),
            Case(
                "sdk-download",
                "download",
                "SDK download_blob().readinto (default max_concurrency=1)",
                "sdk",
                self.sdk_download(None),
            ),
            Case(
                f"sdk-download-c{c}",
                "download",
                f"SDK download_blob(max_concurrency={c}).readinto",
                "sdk",
                self.sdk_download(c),
            ),
            Case("obstore-get", "download", "obstore get, one streamed GET", "sdk", self.obstore_download),
        ]


def comparisons() -> list[Comparison]:
    """The in-process target: the driver's download at least as fast as the SDK's, whichever concurrency it uses."""
    return [
        Comparison(
            "download: azure driver in process vs SDK download",
            "driver-download",
            ("sdk-download", f"sdk-download-c{DRIVER_CONCURRENCY}"),
            1.0,
        )
    ]


def main() -> None:
    """Start Azurite, run every case, print the table (or JSON), stop Azurite."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="MiB moved by each case (default 256)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each case; the median counts (default 3)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args()
    size = args.size * MIB
    servers.stop_on_sigterm()

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with servers.azurite_server() as azurite:
        bench = AzureBench(azurite, size)
        try:
            cases = bench.cases()
            timings = measure(cases, args.runs, progress)
        finally:
            bench.close()
    title = (
        f"Azure on Azurite (127.0.0.1, in memory), {args.size} MiB per transfer, median of {args.runs} runs, "
        f"{os.cpu_count()} cores"
    )
    notes = [
        "proxy/this = proxy time / this case's time; target: proxy within 1.25x of the fastest library's time.",
        "cpu s = CPU seconds of this process (+ the driver's child); Azurite's own CPU is in neither.",
    ]
    report(title, cases, timings, size, as_json=args.json, notes=notes, comparisons=comparisons())


if __name__ == "__main__":
    main()
