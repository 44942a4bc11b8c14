"""A registry's push/pull trace, replayed in process and out of process on the same driver, in one run.

The trace is what distribution's storage layer asks of its driver when images are pushed and pulled, on the
registry's own layout (``/docker/registry/v2/...``), generated from a seed so every case replays the same operations:

- push: for each layer not yet stored, a resumable upload (``startedat`` written, the body sent in PATCH-sized
  chunks, each one ``write_stream`` appending at the current size followed by a ``stat``), then the commit: ``stat``,
  ``move`` into ``blobs/sha256/..``, the repository's layer link, the upload folder deleted; a layer that is already
  stored (shared between images) costs a ``stat`` and a link; then the manifest blob, its revision link and the tag's
  links;
- pull: the tag link, the manifest, and for every layer its link, a ``stat`` and a full ``read_stream``;
- ranged reads: 4 KiB read at a random offset of a random layer, then the stream closed (a resumed download);
- a catalog walk over the repositories.

Layer sizes are log-uniform from 1 KiB to 32 MiB. Each case (driver x in/out of process) runs ``--rounds`` times,
interleaved; the fastest round counts. CPU time is reported beside wall time: the parent's from getrusage, the
child's from /proc/PID/stat.

Usage: ``python bench/registry.py [--seed N] [--layers N] [--rounds N] [--json]``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import registry_storage
from registry_storage.driver import StorageDriver

KIB = 1 << 10
MIB = 1 << 20
PATCH_BYTES = 5 * MIB
"""Bytes per PATCH of a chunked upload (the S3 multipart minimum, a common client chunk)."""
RANGED_READ_BYTES = 4 * KIB
ROOT = "/docker/registry/v2"
TARGETS = {"filesystem": 1.5, "inmemory": 2.0}
"""Largest acceptable out-of-process / in-process time for the whole trace, per driver."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- the trace -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One blob: its size and the seed of its bytes (the digest is that of the bytes)."""

    index: int
    size: int

    def content(self, block: bytes) -> bytes:
        """The layer's bytes: an 8-byte prefix naming the layer, then the shared random block, cut to size."""
        prefix = self.index.to_bytes(8, "little")
        body = (block * (1 + self.size // len(block)))[: max(0, self.size - len(prefix))]
        return (prefix + body)[: self.size]


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str
    layers: tuple[Layer, ...]


@dataclass(frozen=True)
class Trace:
    images: tuple[Image, ...]
    ranged: tuple[tuple[Layer, int], ...]
    """(layer, offset) of each ranged read."""


def make_trace(seed: int, layer_count: int, images: int = 10) -> Trace:
    """``layer_count`` distinct layers over ``images`` images; a third of the images share a base layer."""
    rng = random.Random(seed)
    low, high = math.log(KIB), math.log(32 * MIB)
    layers = [Layer(index, int(math.exp(rng.uniform(low, high)))) for index in range(layer_count)]
    base = layers[0]
    own = layers[1:]
    per_image = max(1, len(own) // images)
    built: list[Image] = []
    for number in range(images):
        chosen = own[number * per_image : (number + 1) * per_image]
        if number % 3 == 0:
            chosen = [base, *chosen]
        built.append(Image(f"library/app{number}", "latest", tuple(chosen)))
    pulled = [layer for image in built for layer in image.layers]
    ranged = tuple((layer, rng.randrange(layer.size)) for layer in (rng.choice(pulled) for _ in range(40)))
    return Trace(tuple(built), ranged)


# -- replaying it ----------------------------------------------------------------------------------------------------


@dataclass
class Timings:
    """Seconds and counts per operation kind."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def timed(self, kind: str, operation: Callable[..., Any], *arguments: Any) -> Any:
        """Run ``operation(*arguments)``, adding its wall time to ``kind``; return its result."""
        started = time.perf_counter()
        result = operation(*arguments)
        self.seconds[kind] += time.perf_counter() - started
        self.counts[kind] += 1
        return result


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _blob_path(digest: str) -> str:
    return f"{ROOT}/blobs/sha256/{digest[:2]}/{digest}/data"


def _repository(name: str) -> str:
    return f"{ROOT}/repositories/{name}"


class Replay:
    """Replays a :class:`Trace` on one driver, timing each operation by kind."""

    def __init__(self, driver: StorageDriver, block: bytes) -> None:
        self.driver = driver
        self.block = block
        self.timings = Timings()
        self._digests: dict[int, str] = {}
        self._uploads = 0

    def run(self, trace: Trace) -> None:
        for image in trace.images:
            self.push(image)
        for image in trace.images:
            self.pull(image)
        for layer, offset in trace.ranged:
            self.ranged_read(layer, offset)
        self.catalog()

    def _layer_digest(self, layer: Layer) -> tuple[str, bytes]:
        content = layer.content(self.block)
        digest = self._digests.setdefault(layer.index, _digest(content))
        return digest, content

    def push(self, image: Image) -> None:
        driver, timed = self.driver, self.timings.timed
        repository = _repository(image.repository)
        manifest_layers = []
        for layer in image.layers:
            digest, content = self._layer_digest(layer)
            manifest_layers.append({"digest": f"sha256:{digest}", "size": layer.size})
            blob = _blob_path(digest)
            try:
                timed("stat", driver.stat, blob)
            except registry_storage.PathNotFoundError:
                self.upload(repository, blob, content)
            link = f"{repository}/_layers/sha256/{digest}/link"
            timed("put_content", driver.put_content, link, f"sha256:{digest}".encode())
        manifest = json.dumps({"schemaVersion": 2, "layers": manifest_layers}).encode()
        digest = _digest(manifest)
        timed("put_content", driver.put_content, _blob_path(digest), manifest)
        revision = f"{repository}/_manifests/revisions/sha256/{digest}/link"
        timed("put_content", driver.put_content, revision, f"sha256:{digest}".encode())
        tag = f"{repository}/_manifests/tags/{image.tag}"
        timed("put_content", driver.put_content, f"{tag}/current/link", f"sha256:{digest}".encode())
        timed("put_content", driver.put_content, f"{tag}/index/sha256/{digest}/link", b"sha256:" + digest.encode())

    def upload(self, repository: str, blob: str, content: bytes) -> None:
        driver, timed = self.driver, self.timings.timed
        self._uploads += 1
        folder = f"{repository}/_uploads/upload-{self._uploads:06d}"
        data = f"{folder}/data"
        timed("put_content", driver.put_content, f"{folder}/startedat", b"2026-12-02T00:00:00Z")
        view = memoryview(content)
        offset = 0
        while True:
            piece = view[offset : offset + PATCH_BYTES]
            timed("write_stream", driver.write_stream, data, offset, io.BytesIO(piece))
            offset = timed("stat", driver.stat, data).size
            if offset >= len(content):
                break
        timed("stat", driver.stat, data)
        timed("move", driver.move, data, blob)
        timed("delete", driver.delete, folder)

    def pull(self, image: Image) -> None:
        driver, timed = self.driver, self.timings.timed
        repository = _repository(image.repository)
        tag = f"{repository}/_manifests/tags/{image.tag}/current/link"
        digest = timed("get_content", driver.get_content, tag).decode().removeprefix("sha256:")
        manifest = json.loads(timed("get_content", driver.get_content, _blob_path(digest)))
        for entry in manifest["layers"]:
            layer_digest = entry["digest"].removeprefix("sha256:")
            link = f"{repository}/_layers/sha256/{layer_digest}/link"
            timed("get_content", driver.get_content, link)
            blob = _blob_path(layer_digest)
            size = timed("stat", driver.stat, blob).size
            received = timed("read_stream", _drain, driver, blob)
            if received != size:
                raise AssertionError(f"{blob}: read {received} bytes of {size}")

    def ranged_read(self, layer: Layer, offset: int) -> None:
        digest, content = self._layer_digest(layer)
        blob = _blob_path(digest)

        def read() -> bytes:
            with self.driver.read_stream(blob, offset) as stream:
                return stream.read(RANGED_READ_BYTES)

        if self.timings.timed("ranged_read", read) != content[offset : offset + RANGED_READ_BYTES]:
            raise AssertionError(f"{blob}: wrong bytes at offset {offset}")

    def catalog(self) -> None:
        entries = self.timings.timed("walk", _walk_all, self.driver, f"{ROOT}/repositories")
        if not entries:
            raise AssertionError("the catalog walk found nothing")


def _walk_all(driver: StorageDriver, path: str) -> list[Any]:
    return list(driver.walk(path))


def _drain(driver: StorageDriver, path: str) -> int:
    buffer = bytearray(MIB)
    total = 0
    with driver.read_stream(path) as stream:
        while count := stream.readinto(buffer):
            total += count
    return total


# -- cases -----------------------------------------------------------------------------------------------------------


def _parent_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _parameters(driver: str, directory: str) -> dict[str, Any]:
    return {"rootdirectory": directory} if driver == "filesystem" else {}


def run_case(driver_name: str, out_of_process: bool, trace: Trace, block: bytes) -> dict[str, Any]:
    """Replay ``trace`` on a fresh store; wall and CPU seconds in total and per operation kind."""
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as directory:
        driver = registry_storage.create(
            driver_name, _parameters(driver_name, directory), out_of_process=out_of_process
        )
        with driver:
            pid = getattr(driver, "pid", None)
            pid = pid if isinstance(pid, int) else None
            replay = Replay(driver, block)
            cpu_parent, cpu_child = _parent_cpu(), _child_cpu(pid)
            started = time.perf_counter()
            replay.run(trace)
            seconds = time.perf_counter() - started
            cpu_parent, cpu_child = _parent_cpu() - cpu_parent, _child_cpu(pid) - cpu_child
    timings = replay.timings
    return {
        "seconds": seconds,
        "cpu_parent": cpu_parent,
        "cpu_child": cpu_child,
        "operations": {
            kind: {"count": timings.counts[kind], "seconds": timings.seconds[kind]} for kind in sorted(timings.counts)
        },
    }


def trace_bytes(trace: Trace) -> int:
    """Bytes moved by the trace: every layer pushed once and pulled per image."""
    pushed = {layer.index: layer.size for image in trace.images for layer in image.layers}
    pulled = sum(layer.size for image in trace.images for layer in image.layers)
    return sum(pushed.values()) + pulled


def cases(drivers: list[str]) -> Iterator[tuple[str, bool]]:
    for driver in drivers:
        yield driver, False
        yield driver, True


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--layers", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--drivers", default="filesystem,inmemory")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    arguments = parser.parse_args(argv)
    trace = make_trace(arguments.seed, arguments.layers)
    block = random.Random(arguments.seed).randbytes(MIB)
    drivers = arguments.drivers.split(",")
    best: dict[tuple[str, bool], dict[str, Any]] = {}
    for _ in range(arguments.rounds):
        for case in cases(drivers):
            result = run_case(*case, trace, block)
            if case not in best or result["seconds"] < best[case]["seconds"]:
                best[case] = result
    summary = {
        "bytes": trace_bytes(trace),
        "drivers": {
            driver: {
                "in_process": best[driver, False],
                "out_of_process": best[driver, True],
                "ratio": best[driver, True]["seconds"] / best[driver, False]["seconds"],
                "target": TARGETS.get(driver),
            }
            for driver in drivers
        },
    }
    summary["table"] = table_rows(summary)
    if arguments.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print_table(summary)
    return summary


def table_rows(summary: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, value, target, verdict) per driver: the out-of-process / in-process time of the whole trace."""
    rows = []
    for driver, result in summary["drivers"].items():
        inside, outside, target = result["in_process"], result["out_of_process"], result["target"]
        value = (
            f"{result['ratio']:.2f}x ({inside['seconds']:.2f} s in, {outside['seconds']:.2f} s out; cpu "
            f"{inside['cpu_parent']:.2f} s in, {outside['cpu_parent']:.2f} + {outside['cpu_child']:.2f} s out)"
        )
        verdict = "" if target is None else ("ok" if result["ratio"] <= target else "MISS")
        rows.append((f"registry trace out/in ({driver})", value, "" if target is None else f"<= {target:g}x", verdict))
    return rows


def print_table(summary: dict[str, Any]) -> None:
    print(f"registry trace: {summary['bytes'] / 1e6:.0f} MB moved per case, fastest of the rounds")
    print(f"{'driver':<11} {'in s':>7} {'out s':>7} {'out/in':>7} {'target':>7}   cpu s in | out parent + child")
    for driver, result in summary["drivers"].items():
        inside, outside, target = result["in_process"], result["out_of_process"], result["target"]
        verdict = "" if target is None else ("ok" if result["ratio"] <= target else "MISS")
        print(
            f"{driver:<11} {inside['seconds']:7.2f} {outside['seconds']:7.2f} {result['ratio']:7.2f} "
            f"{target or 0:7.2f} {verdict:<4} {inside['cpu_parent']:5.2f} | "
            f"{outside['cpu_parent']:5.2f} + {outside['cpu_child']:5.2f}"
        )
    print(f"\n{'driver':<11} {'operation':<12} {'count':>6} {'in ms/op':>9} {'out ms/op':>10} {'out/in':>7}")
    for driver, result in summary["drivers"].items():
        inside, outside = result["in_process"]["operations"], result["out_of_process"]["operations"]
        for kind, measured in inside.items():
            count = measured["count"]
            in_ms = 1000 * measured["seconds"] / count
            out_ms = 1000 * outside[kind]["seconds"] / outside[kind]["count"]
            print(f"{driver:<11} {kind:<12} {count:6d} {in_ms:9.3f} {out_ms:10.3f} {out_ms / in_ms:7.2f}")


if __name__ == "__main__":
    main()
