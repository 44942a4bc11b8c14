"""S3 benchmark: the S3 driver through the client proxy, against the same driver in process and boto3's own transfer
manager, all on one moto server on 127.0.0.1 that the script starts and always stops.

Cases, each moving ``--size`` MiB (default 256) once per run, every case run ``--runs`` times (default 3,
interleaved) and the median time kept:

- upload: ``write_stream`` from a generator of 1 MiB chunks, through the proxy (``registry-storage-s3`` child) and
  in process (10 MiB parts, 4 at once: the driver's defaults); boto3 ``upload_fileobj`` from a non-seekable file that
  produces the same bytes as it is read (transfer manager defaults: 8 MiB parts, 10 threads);
- download: ``read_stream`` drained with ``readinto`` into one reused 1 MiB buffer, through the proxy and in
  process; boto3 ``download_fileobj`` into a sink that discards (transfer manager defaults: 8 MiB ranged GETs, 10
  threads); and one ``get_object`` whose body is read in 1 MiB pieces;
- obstore (Rust's object_store, the fastest Python object-store client measured here): ``put`` from the same 1 MiB
  chunks (it takes a seekable file or an iterator; its defaults: 5 MiB parts, 12 at once) and ``get`` streamed in
  1 MiB chunks.

The table gives MB/s and, per direction, proxy time / case time; the target is the proxy within 1.25x of the
fastest library's time. moto answers every ranged GET by reading the whole object and slicing it, so the transfer
manager's many ranged GETs are slow on moto (and would not be on S3): the single streamed ``get_object`` is the fair
download baseline here, and both are shown. boto3 uses a client set up like the driver's (checksums only where the API
requires them), so both send the same kind of requests. The bucket is dropped and created again (moto reset)
before every case, and the object a download reads is uploaded untimed.

Usage, from the repository root with the virtualenv's Python (boto3 and moto[server] installed)::

    .venv/bin/python bench/s3.py                 # table, 256 MiB, median of 3 runs
    .venv/bin/python bench/s3.py --size 64 --runs 3
    .venv/bin/python bench/s3.py --json          # machine-readable: every time, the rows, the notes

The proxy case spawns ``registry-storage-s3``: it must be on ``$PATH`` or beside this Python (``.venv/bin``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import registry_storage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, home of the bench package
from bench import servers
from bench.transfers import CHUNK, MIB, Case, DiscardSink, Timing, chunks, drain, generated_file, measure, report, timed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "registry-storage-bench"
PATH = "/bench/object"
KEY = PATH[1:]


def driver_parameters(endpoint: str) -> dict[str, Any]:
    """Parameters of the S3 driver on the benchmark bucket (driver defaults otherwise: 10 MiB parts)."""
    return {
        "bucket": BUCKET,
        "region": "us-east-1",
        "regionendpoint": endpoint,
        "accesskey": "test",
        "secretkey": "test",
        "forcepathstyle": True,
    }


def boto3_client(endpoint: str) -> S3Client:
    """A plain boto3 client on the moto server, with the driver's checksum settings."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
        config=config,
    )


class S3Bench:
    """The cases, sharing one moto server and one boto3 client."""

    def __init__(self, endpoint: str, size: int) -> None:
        self.endpoint = endpoint
        self.size = size
        self.client = boto3_client(endpoint)

    def fresh_bucket(self, *, with_object: bool) -> None:
        """Reset the server to an empty bucket; with ``with_object``, upload the object to read (untimed)."""
        servers.moto_reset(self.endpoint)
        self.client.create_bucket(Bucket=BUCKET)
        if with_object:
            self.client.upload_fileobj(generated_file(self.size), BUCKET, KEY)

    def driver_case(self, direction: str, *, out_of_process: bool) -> Callable[[], Timing]:
        def run() -> Timing:
            self.fresh_bucket(with_object=direction == "download")
            parameters = driver_parameters(self.endpoint)
            with registry_storage.create("s3", parameters, out_of_process=out_of_process) as driver:
                if direction == "upload":
                    return timed(lambda: driver.write_stream(PATH, 0, chunks(self.size)), self.size, driver)
                return timed(lambda: drain(driver, PATH), self.size, driver)

        return run

    def boto3_upload(self) -> Timing:
        self.fresh_bucket(with_object=False)

        def upload() -> int:
            self.client.upload_fileobj(generated_file(self.size), BUCKET, KEY)
            return int(self.client.head_object(Bucket=BUCKET, Key=KEY)["ContentLength"])

        return timed(upload, self.size)

    def boto3_download(self) -> Timing:
        self.fresh_bucket(with_object=True)

        def download() -> int:
            sink = DiscardSink()
            self.client.download_fileobj(BUCKET, KEY, cast("IO[bytes]", sink))
            return sink.written

        return timed(download, self.size)

    def boto3_get(self) -> Timing:
        self.fresh_bucket(with_object=True)

        def get() -> int:
            body = self.client.get_object(Bucket=BUCKET, Key=KEY)["Body"]
            total = 0
            with body:
                while piece := body.read(CHUNK):
                    total += len(piece)
            return total

        return timed(get, self.size)

    def obstore_store(self) -> Any:
        """An obstore S3Store on the benchmark bucket (path-style requests, plain HTTP to the local server)."""
        from obstore.store import S3Store

        config = {
            "endpoint": self.endpoint,
            "access_key_id": "test",
            "secret_access_key": "test",
            "region": "us-east-1",
            "virtual_hosted_style_request": False,
        }
        return S3Store(BUCKET, config=config, client_options={"allow_http": True})  # type: ignore[arg-type]

    def obstore_upload(self) -> Timing:
        import obstore

        self.fresh_bucket(with_object=False)
        store = self.obstore_store()

        def upload() -> int:
            obstore.put(store, KEY, chunks(self.size))
            return int(obstore.head(store, KEY)["size"])

        return timed(upload, self.size)

    def obstore_download(self) -> Timing:
        import obstore

        self.fresh_bucket(with_object=True)
        store = self.obstore_store()

        def download() -> int:
            return sum(len(piece) for piece in obstore.get(store, KEY).stream(min_chunk_size=CHUNK))

        return timed(download, self.size)

    def cases(self) -> list[Case]:
        return [
            Case(
                "proxy-upload",
                "upload",
                "proxy -> s3 driver write_stream",
                "proxy",
                self.driver_case("upload", out_of_process=True),
            ),
            Case(
                "driver-upload",
                "upload",
                "s3 driver in process",
                "driver",
                self.driver_case("upload", out_of_process=False),
            ),
            Case("boto3-upload", "upload", "boto3 upload_fileobj (transfer manager)", "sdk", self.boto3_upload),
            Case("obstore-upload", "upload", "obstore put (5 MiB parts, 12 at once)", "sdk", self.obstore_upload),
            Case(
                "proxy-download",
                "download",
                "proxy -> s3 driver read_stream",
                "proxy",
                self.driver_case("download", out_of_process=True),
            ),
            Case(
                "driver-download",
                "download",
                "s3 driver in process",
                "driver",
                self.driver_case("download", out_of_process=False),
            ),
            Case(
                "boto3-download",
                "download",
                "boto3 download_fileobj (transfer manager, ranged GETs)",
                "sdk",
                self.boto3_download,
            ),
            Case("boto3-get", "download", "boto3 get_object, one streamed GET", "sdk", self.boto3_get),
            Case("obstore-get", "download", "obstore get, one streamed GET", "sdk", self.obstore_download),
        ]


def main() -> None:
    """Start moto, run every case, print the table (or JSON), stop moto."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="MiB moved by each case (default 256)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each case; the median counts (default 3)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args()
    size = args.size * MIB
    servers.stop_on_sigterm()

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with servers.moto_server() as endpoint:
        bench = S3Bench(endpoint, size)
        cases = bench.cases()
        timings = measure(cases, args.runs, progress)
        servers.moto_reset(endpoint)
    title = f"S3 on moto (127.0.0.1), {args.size} MiB per transfer, median of {args.runs} runs, {os.cpu_count()} cores"
    notes = [
        "proxy/this = proxy time / this case's time; target: proxy within 1.25x of the fastest library's time.",
        "moto reads the whole object for every ranged GET: the transfer manager's download is slow on moto only;",
        "the single streamed get_object is the fair download baseline.",
    ]
    report(title, cases, timings, size, as_json=args.json, notes=notes)


if __name__ == "__main__":
    main()
