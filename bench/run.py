"""Protocol and proxy benchmarks: every number in one run on one machine, reported next to its target.

Each case runs in a fresh Python process, so peak RSS (``VmHWM``) belongs to that case alone:

- ``pipe``: raw pipe ceiling, two processes moving the bytes with os.write/os.read in 1 MiB pieces through a
  1 MiB pipe (the size the client and the host set on theirs);
- ``proxy-write`` / ``proxy-read``: write_stream / read_stream through the client proxy to the inmemory driver;
- ``local-write`` / ``local-read``: the same on the inmemory driver in process;
- ``fs-write`` / ``fs-read``: the same through the proxy to the filesystem driver (the child keeps no data in memory,
  so its peak RSS shows the protocol's own footprint; the inmemory child necessarily holds the whole object);
- ``fs-local-write`` / ``fs-local-read``: the filesystem driver in process, what its own writes and reads cost here
  (the kernel's copy into the page cache bounds a filesystem write through the proxy as much as the pipe does);
  every streaming case also reports the CPU seconds per GiB of the parent (getrusage) and of the child
  (/proc/PID/stat), which stay steady on a shared machine where wall time drifts;
- ``small``: the per-operation overhead through the proxy (inmemory): ``stat``, ``put_content`` of 10 bytes, a
  4 KiB ``read_stream`` at an offset of a 32 MiB file, a 1 KB ``write_stream``, each in ms per operation (the median
  of 5 interleaved rounds), the small stream operations against the ``stat`` round trip of the same run; and the
  CPU microseconds per ``stat`` on each side over 5,000 calls;
- ``pingpong``: 100-byte round trips between two processes over pipes, the ceiling of any sequential call (on an
  idle virtual machine, waking a sleeping CPU dominates it), with the CPU each side spends per round trip: the floor
  under the CPU per ``stat``, which a trip of the protocol adds its own work to;
- ``stat``: stat round trips per second through the proxy, sequential and from 8 threads;
- ``startup``: time from spawning a driver to its first answer.

Usage: ``python bench/run.py [--size MiB] [--json]``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import resource
import statistics
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
CPU_STAT_CALLS = 5000
SMALL_OPS = 300
SMALL_ROUNDS = 5
TARGETS = {
    "stream_vs_pipe": 0.60,
    "small_stream_vs_stat": 2.0,
    "stat_cpu_parent_us": 35.0,
    "stat_cpu_child_us": 45.0,
    "rss_mib": 100.0,
}
"""Issue targets: streams at least 60% of the raw pipe; a small ranged read or write costs at most 2 stat round
trips; CPU per stat in microseconds; peak RSS of the protocol's processes."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process (``pid`` None) or of the child ``pid`` (0.0 when there is none)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds spent by this process and by a driver's child between :meth:`start` and :meth:`stop`."""

    def __init__(self, driver: StorageDriver) -> None:
        self.pid = child_pid(driver)
        self.parent = self.child = 0.0

    def start(self) -> None:
        self.parent, self.child = cpu_seconds(), cpu_seconds(self.pid) if self.pid else 0.0

    def stop(self) -> None:
        self.parent = cpu_seconds() - self.parent
        self.child = (cpu_seconds(self.pid) if self.pid else 0.0) - self.child


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
    for _ in range(1000):  # both processes warm, as the proxy's are when the stat CPU is measured
        os.write(from_parent, message)
        os.read(from_child, 4096)
    trips = 0
    parent_cpu, child_cpu = cpu_seconds(), cpu_seconds(child.pid)
    started = time.perf_counter()
    while time.perf_counter() - started < STAT_SECONDS:
        os.write(from_parent, message)
        os.read(from_child, 4096)
        trips += 1
    seconds = time.perf_counter() - started
    parent_cpu, child_cpu = cpu_seconds() - parent_cpu, cpu_seconds(child.pid) - child_cpu
    os.close(from_parent)
    child.wait()
    os.close(from_child)
    return {
        "round_trips_s": trips / seconds,
        "cpu_parent_us": 1e6 * parent_cpu / trips,
        "cpu_child_us": 1e6 * child_cpu / trips,
    }


def _stream_case(driver: StorageDriver, size: int, direction: str) -> dict[str, Any]:
    path = "/bench/object"
    if direction == "read":
        driver.write_stream(path, 0, chunks(size))
    meter = CpuMeter(driver)
    meter.start()
    started = time.perf_counter()
    moved = driver.write_stream(path, 0, chunks(size)) if direction == "write" else drain(driver, path)
    seconds = time.perf_counter() - started
    meter.stop()
    result = {
        "bytes": moved,
        "seconds": seconds,
        "parent_cpu": meter.parent,
        "child_cpu": meter.child,
        "parent_rss_mib": peak_rss_mib(),
    }
    if meter.pid is not None:
        result["child_rss_mib"] = peak_rss_mib(meter.pid)
    driver.delete("/bench")
    return result


def case_proxy(size: int, direction: str) -> dict[str, Any]:
    with registry_storage.create("inmemory", {}, out_of_process=True) as driver:
        return _stream_case(driver, size, direction)


def case_local(size: int, direction: str) -> dict[str, Any]:
    with registry_storage.create("inmemory", {}) as driver:
        return _stream_case(driver, size, direction)


def case_fs(size: int, direction: str, *, out_of_process: bool) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="registry-storage-bench-") as root,
        registry_storage.create("filesystem", {"rootdirectory": root}, out_of_process=out_of_process) as driver,
    ):
        return _stream_case(driver, size, direction)


def _milliseconds_per_call(call: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return 1000 * (time.perf_counter() - started) / count


def case_small() -> dict[str, Any]:
    """Per-operation cost of small calls through the proxy, and the CPU per stat on each side."""
    with registry_storage.create("inmemory", {}, out_of_process=True) as driver:
        driver.write_stream("/bench/large", 0, chunks(32 * MIB))
        driver.put_content("/bench/small", b"x")
        offset = 16 * MIB + 12345
        payload = os.urandom(1000)

        def ranged_read() -> bytes:
            with driver.read_stream("/bench/large", offset) as stream:
                return stream.read(4096)

        operations: dict[str, Callable[[], object]] = {
            "stat": lambda: driver.stat("/bench/small"),
            "put_content_10b": lambda: driver.put_content("/bench/tiny", b"0123456789"),
            "ranged_read_4k": ranged_read,
            "write_stream_1k": lambda: driver.write_stream("/bench/written", 0, [payload]),
        }
        rounds: dict[str, list[float]] = {name: [] for name in operations}
        for _ in range(SMALL_ROUNDS):  # interleaved, so a drift of the machine's speed touches every kind alike
            for name, operation in operations.items():
                rounds[name].append(_milliseconds_per_call(operation, SMALL_OPS // SMALL_ROUNDS))
        timings = {name: statistics.median(values) for name, values in rounds.items()}
        meter = CpuMeter(driver)
        meter.start()
        for _ in range(CPU_STAT_CALLS):
            driver.stat("/bench/small")
        meter.stop()
        driver.delete("/bench")
    return {
        "ms_per_op": timings,
        "stat_cpu_parent_us": 1e6 * meter.parent / CPU_STAT_CALLS,
        "stat_cpu_child_us": 1e6 * meter.child / CPU_STAT_CALLS,
    }


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
    "fs-write": lambda size: case_fs(size, "write", out_of_process=True),
    "fs-read": lambda size: case_fs(size, "read", out_of_process=True),
    "fs-local-write": lambda size: case_fs(size, "write", out_of_process=False),
    "fs-local-read": lambda size: case_fs(size, "read", out_of_process=False),
    "small": lambda size: case_small(),
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


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def summarise(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Rows of (measure, value, target, verdict)."""

    def mb_s(result: dict[str, Any]) -> float:
        return float(result["bytes"]) / float(result["seconds"]) / 1e6

    def cpu_per_gib(result: dict[str, Any]) -> str:
        gib = float(result["bytes"]) / (1 << 30)
        return f"cpu {result['parent_cpu'] / gib:.2f} + {result['child_cpu'] / gib:.2f} s/GiB"

    pipe = mb_s(results["pipe"])
    rows: list[tuple[str, str, str, str]] = [("raw pipe ceiling", f"{pipe:,.0f} MB/s", "", "")]
    target = TARGETS["stream_vs_pipe"]
    for driver, prefix in (("inmemory", "proxy"), ("filesystem", "fs")):
        for direction in ("write", "read"):
            result = results[f"{prefix}-{direction}"]
            ratio = mb_s(result) / pipe
            value = f"{mb_s(result):,.0f} MB/s = {ratio:.0%} of pipe, {cpu_per_gib(result)}"
            rows.append(
                (f"{direction}_stream via proxy ({driver})", value, f">= {target:.0%}", _verdict(ratio >= target))
            )
    for driver, prefix in (("inmemory", "local"), ("filesystem", "fs-local")):
        for direction in ("write", "read"):
            result = results[f"{prefix}-{direction}"]
            rows.append((f"{direction}_stream in process ({driver})", f"{mb_s(result):,.0f} MB/s", "", ""))
    small = results["small"]
    per_op = small["ms_per_op"]
    stat_ms = per_op["stat"]
    rows.append(("stat through the proxy", f"{stat_ms:.3f} ms", "", ""))
    rows.append(("put_content of 10 bytes", f"{per_op['put_content_10b']:.3f} ms", "", ""))
    limit = TARGETS["small_stream_vs_stat"]
    for key, label in (("ranged_read_4k", "4 KiB read_stream at an offset"), ("write_stream_1k", "1 KB write_stream")):
        stats = per_op[key] / stat_ms
        rows.append(
            (label, f"{per_op[key]:.3f} ms = {stats:.1f} stats", f"<= {limit:g} stats", _verdict(stats <= limit))
        )
    pingpong = results["pingpong"]
    for side in ("parent", "child"):
        value = small[f"stat_cpu_{side}_us"]
        limit = TARGETS[f"stat_cpu_{side}_us"]
        floor = f"(a bare round trip: {pingpong[f'cpu_{side}_us']:.0f} us)"
        rows.append((f"CPU per stat, {side}", f"{value:.0f} us {floor}", f"<= {limit:g} us", _verdict(value <= limit)))
    stat = results["stat"]
    rows.append(("raw pipe round trips (sequential ceiling)", f"{pingpong['round_trips_s']:,.0f} /s", "", ""))
    rows.append(("stat sequential", f"{stat['sequential']:,.0f} calls/s", "", ""))
    rows.append((f"stat from {THREADS} threads", f"{stat['threads']:,.0f} calls/s", "", ""))
    startup = results["startup"]
    rows.append(("child start-up to first answer", f"{startup['seconds_median'] * 1000:.0f} ms (median)", "", ""))
    rss_rows = [
        ("peak RSS, proxy parent (inmemory write)", results["proxy-write"]["parent_rss_mib"]),
        ("peak RSS, proxy parent (inmemory read)", results["proxy-read"]["parent_rss_mib"]),
        ("peak RSS, proxy parent (filesystem read)", results["fs-read"]["parent_rss_mib"]),
        ("peak RSS, driver child (filesystem read)", results["fs-read"]["child_rss_mib"]),
    ]
    limit = TARGETS["rss_mib"]
    for label, value in rss_rows:
        rows.append((label, f"{value:.0f} MiB", f"< {limit:.0f} MiB", _verdict(value < limit)))
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
        print(f"  {measure:<{width}}  {value:<{value_width}}  {target:<12} {verdict}".rstrip())


if __name__ == "__main__":
    main()
