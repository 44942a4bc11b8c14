"""Protocol and proxy benchmarks: every number in one run on one machine, reported next to its target.

Each case runs in a fresh Python process, so peak RSS (``VmHWM``) belongs to that case alone:

- ``pipe``: raw pipe ceiling, two processes moving the bytes with os.write/os.read in 1 MiB pieces through a
  1 MiB pipe (the size the client and the host set on theirs);
- ``proxy-write`` / ``proxy-read``: write_stream / read_stream through the client proxy to the inmemory driver;
- ``local-write`` / ``local-read``: the same on the inmemory driver in process;
- ``fs-proxy``: write then read through the proxy to the filesystem driver (the child keeps no data in memory, so
  its peak RSS shows the protocol's own footprint; the inmemory child necessarily holds the whole object);
- ``pingpong``: 100-byte round trips between two processes over pipes, the ceiling of any sequential call (on an
  idle virtual machine, waking a sleeping CPU dominates it);
- ``stat``: stat round trips per second through the proxy, sequential and from 8 threads;
- ``startup``: time from spawning a driver to its first answer.

Usage: ``python bench/run.py [--size MiB] [--json]``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import registry_storage
from registry_storage.driver import StorageDriver

MIB = 1 << 20
CHUNK = MIB
PIPE_BYTES = MIB
STAT_SECONDS = 2.0
THREADS = 8
TARGETS = {
    "proxy_write_vs_pipe": 0.60,
    "proxy_read_vs_pipe": 0.60,
    "stat_sequential": 4000.0,
    "stat_threads": 6000.0,
    "rss_mib": 100.0,
}


def peak_rss_mib(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) of a process, in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def chunks(total: int) -> Iterator[bytes]:
    """``total`` bytes in 1 MiB chunks, each made distinct cheaply (one reused block, one varying prefix)."""
    block = bytearray(os.urandom(CHUNK))
    sent = 0
    while sent < total:
        block[:8] = sent.to_bytes(8, "little")
        piece = bytes(block[: min(CHUNK, total - sent)])
        sent += len(piece)
        yield piece


def drain(driver: StorageDriver, path: str) -> int:
    """Read ``path`` to the end in 1 MiB pieces into one reused buffer; return the byte count."""
    buffer = bytearray(CHUNK)
    total = 0
    with driver.read_stream(path) as stream:
        while count := stream.readinto(buffer):
            total += count
    return total


def child_pid(driver: StorageDriver) -> int | None:
    """The pid of an out-of-process driver's child, when the proxy exposes it."""
    pid = getattr(driver, "pid", None)
    return pid if isinstance(pid, int) else None


# -- cases, each run in its own process ------------------------------------------------------------------------------


def case_pipe(size: int) -> dict[str, Any]:
    reader, writer = os.pipe()
    fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # the size the proxy and the host ask for
    code = (
        "import os,sys\n"
        "fd=int(sys.argv[1]); total=int(sys.argv[2]); block=memoryview(b'x'*(1<<20)); sent=0\n"
        "while sent<total:\n"
        "    sent+=os.write(fd, block[:min(len(block), total-sent)])\n"
    )
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code, str(writer), str(size)], pass_fds=[writer])
    os.close(writer)
    received = 0
    while chunk := os.read(reader, CHUNK):
        received += len(chunk)
    seconds = time.perf_counter() - started
    child.wait()
    os.close(reader)
    return {"bytes": received, "seconds": seconds, "parent_rss_mib": peak_rss_mib()}


def case_pingpong() -> dict[str, Any]:
    """Round trips of 100 bytes between two processes over two pipes: the ceiling of any sequential call."""
    to_child, from_parent = os.pipe()
    from_child, to_parent = os.pipe()
    code = "import os,sys\nr,w=int(sys.argv[1]),int(sys.argv[2])\nwhile m:=os.read(r,4096):\n    os.write(w,m)\n"
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(to_child), str(to_parent)], pass_fds=[to_child, to_parent]
    )
    os.close(to_child)
    os.close(to_parent)
    message = b"x" * 100
    trips = 0
    started = time.perf_counter()
    while time.perf_counter() - started < STAT_SECONDS:
        os.write(from_parent, message)
        os.read(from_child, 4096)
        trips += 1
    seconds = time.perf_counter() - started
    os.close(from_parent)
    child.wait()
    os.close(from_child)
    return {"round_trips_s": trips / seconds}


def _stream_case(driver: StorageDriver, size: int, direction: str) -> dict[str, Any]:
    path = "/bench/object"
    if direction == "read":
        driver.write_stream(path, 0, chunks(size))
    started = time.perf_counter()
    moved = driver.write_stream(path, 0, chunks(size)) if direction == "write" else drain(driver, path)
    seconds = time.perf_counter() - started
    pid = child_pid(driver)
    result = {"bytes": moved, "seconds": seconds, "parent_rss_mib": peak_rss_mib()}
    if pid is not None:
        result["child_rss_mib"] = peak_rss_mib(pid)
    driver.delete("/bench")
    return result


def case_proxy(size: int, direction: str) -> dict[str, Any]:
    with registry_storage.create("inmemory", {}, out_of_process=True) as driver:
        return _stream_case(driver, size, direction)


def case_local(size: int, direction: str) -> dict[str, Any]:
    with registry_storage.create("inmemory", {}) as driver:
        return _stream_case(driver, size, direction)


def case_fs_proxy(size: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="registry-storage-bench-") as root,
        registry_storage.create("filesystem", {"rootdirectory": root}, out_of_process=True) as driver,
    ):
        path = "/bench/object"
        started = time.perf_counter()
        driver.write_stream(path, 0, chunks(size))
        write_seconds = time.perf_counter() - started
        started = time.perf_counter()
        drain(driver, path)
        read_seconds = time.perf_counter() - started
        pid = child_pid(driver)
        result = {
            "bytes": size,
            "write_seconds": write_seconds,
            "read_seconds": read_seconds,
            "parent_rss_mib": peak_rss_mib(),
            "child_rss_mib": peak_rss_mib(pid) if pid is not None else float("nan"),
        }
        driver.delete("/bench")
        return result


def _calls_per_second(call: Callable[[], object], threads: int) -> float:
    deadline = time.perf_counter() + STAT_SECONDS
    counts = [0] * threads

    def work(index: int) -> None:
        while time.perf_counter() < deadline:
            call()
            counts[index] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def case_stat() -> dict[str, Any]:
    with registry_storage.create("inmemory", {}, out_of_process=True) as driver:
        driver.put_content("/bench/small", b"x")
        sequential = _calls_per_second(lambda: driver.stat("/bench/small"), 1)
        threaded = _calls_per_second(lambda: driver.stat("/bench/small"), THREADS)
        driver.delete("/bench")
    return {"sequential": sequential, "threads": threaded}


def case_startup() -> dict[str, Any]:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        with registry_storage.create("inmemory", {}, out_of_process=True) as driver:
            driver.list("/")
            timings.append(time.perf_counter() - started)
    return {"seconds_best": min(timings), "seconds_median": sorted(timings)[len(timings) // 2]}


CASES: dict[str, Callable[[int], dict[str, Any]]] = {
    "pipe": case_pipe,
    "proxy-write": lambda size: case_proxy(size, "write"),
    "proxy-read": lambda size: case_proxy(size, "read"),
    "local-write": lambda size: case_local(size, "write"),
    "local-read": lambda size: case_local(size, "read"),
    "fs-proxy": case_fs_proxy,
    "pingpong": lambda size: case_pingpong(),
    "stat": lambda size: case_stat(),
    "startup": lambda size: case_startup(),
}


def run_case(name: str, size: int) -> dict[str, Any]:
    """Run one case in a fresh interpreter and return its JSON result."""
    output = subprocess.run(
        [sys.executable, __file__, "--case", name, "--size", str(size // MIB)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def summarise(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Rows of (measure, value, target, verdict)."""

    def mb_s(result: dict[str, Any], seconds_key: str = "seconds") -> float:
        return float(result["bytes"]) / float(result[seconds_key]) / 1e6

    pipe = mb_s(results["pipe"])
    rows: list[tuple[str, str, str, str]] = [("raw pipe ceiling", f"{pipe:,.0f} MB/s", "", "")]
    for direction in ("write", "read"):
        proxy = mb_s(results[f"proxy-{direction}"])
        local = mb_s(results[f"local-{direction}"])
        ratio = proxy / pipe
        target = TARGETS[f"proxy_{direction}_vs_pipe"]
        rows.append(
            (
                f"{direction}_stream via proxy (inmemory)",
                f"{proxy:,.0f} MB/s = {ratio:.0%} of pipe",
                f">= {target:.0%}",
                "ok" if ratio >= target else "MISS",
            )
        )
        rows.append((f"{direction}_stream in process (inmemory)", f"{local:,.0f} MB/s", "", ""))
    fs = results["fs-proxy"]
    rows.append(("write_stream via proxy (filesystem)", f"{mb_s(fs, 'write_seconds'):,.0f} MB/s", "", ""))
    rows.append(("read_stream via proxy (filesystem)", f"{mb_s(fs, 'read_seconds'):,.0f} MB/s", "", ""))
    stat = results["stat"]
    pingpong = results["pingpong"]["round_trips_s"]
    rows.append(("raw pipe round trips (sequential ceiling)", f"{pingpong:,.0f} /s", "", ""))
    for key, label in (("sequential", "stat sequential"), ("threads", f"stat from {THREADS} threads")):
        target = TARGETS[f"stat_{key}"]
        rows.append((label, f"{stat[key]:,.0f} calls/s", f">= {target:,.0f}", "ok" if stat[key] >= target else "MISS"))
    startup = results["startup"]
    rows.append(("child start-up to first answer", f"{startup['seconds_median'] * 1000:.0f} ms (median)", "", ""))
    rss_rows = [
        ("peak RSS, proxy parent (inmemory write)", results["proxy-write"]["parent_rss_mib"]),
        ("peak RSS, proxy parent (inmemory read)", results["proxy-read"]["parent_rss_mib"]),
        ("peak RSS, proxy parent (filesystem)", fs["parent_rss_mib"]),
        ("peak RSS, driver child (filesystem)", fs["child_rss_mib"]),
    ]
    limit = TARGETS["rss_mib"]
    for label, value in rss_rows:
        rows.append((label, f"{value:.0f} MiB", f"< {limit:.0f} MiB", "ok" if value < limit else "MISS"))
    child_inmemory = results["proxy-write"].get("child_rss_mib")
    if child_inmemory is not None:
        rows.append(("peak RSS, driver child (inmemory, holds the data)", f"{child_inmemory:.0f} MiB", "", ""))
    return rows


def main() -> None:
    """Run every case (or one, with ``--case``) and print the table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024, help="MiB moved by each streaming case (default 1024)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.size * MIB
    if args.case:
        print(json.dumps(CASES[args.case](size)))
        return
    results = {name: run_case(name, size) for name in CASES}
    rows = summarise(results)
    if args.json:
        print(json.dumps({"size_bytes": size, "results": results, "table": rows}, indent=2))
        return
    width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    print(f"registry-storage benchmarks, {args.size} MiB per stream, {os.cpu_count()} cores")
    for measure, value, target, verdict in rows:
        print(f"  {measure:<{width}}  {value:>{value_width}}  {target:<12} {verdict}")


if __name__ == "__main__":
    main()
