"""Lists and walks one directory of many files through the proxy and reports memory: ``python large_listing.py
'{"entries": N, "executable": PATH}'`` or ``'{"entries": N, "root": DIR}'`` prints one JSON object.

Run as its own process so the parent's peak RSS is this listing's alone. With ``executable`` (a program running
large_driver.py) the directory ``/big`` is made up by the driver; with ``root`` it creates ``entries`` empty files
in ``root/big`` and starts ``registry-storage-filesystem`` on ``root``. The names are long enough that one ``list``
answer would be over the default 16 MiB message limit. It reports, for the walk and then the list, the peak
resident set of this process and of the child above what each held before (``/proc/PID/clear_refs`` resets the
peaks in between), with the CPU seconds each side spent.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import orjson

import registry_storage
from registry_storage.client import ProxyDriver, launch

NAME = "file-{:07d}-" + "x" * 32
"""The names large_driver.py makes up."""


def _kib(pid: int | str, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def _reset_peak(pid: int | str) -> None:
    with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")


def _child_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parameters = orjson.loads(sys.argv[1])
    entries = int(parameters["entries"])
    if "executable" in parameters:
        driver = launch(parameters["executable"], "large", {"entries": entries})
    else:
        big = os.path.join(parameters["root"], "big")
        os.makedirs(big, exist_ok=True)
        for index in range(entries):
            os.close(os.open(os.path.join(big, NAME.format(index)), os.O_CREAT | os.O_WRONLY, 0o644))
        created = registry_storage.create("filesystem", {"rootdirectory": parameters["root"]}, out_of_process=True)
        assert isinstance(created, ProxyDriver)
        driver = created
    report: dict[str, object] = {"entries": entries}
    with driver:
        child = driver.pid
        report["protocol"] = driver.session.info.protocol_version
        for action in ("walk", "list"):
            own_before, child_before = _kib("self", "VmRSS"), _kib(child, "VmRSS")
            _reset_peak("self")
            _reset_peak(child)
            own_cpu, child_cpu, started = _own_cpu(), _child_cpu(child), time.monotonic()
            if action == "walk":
                count, first, last, previous, ordered = 0, "", "", "", True
                for count, info in enumerate(driver.walk("/big"), start=1):  # noqa: B007 - count is reported
                    first = first or info.path
                    ordered = ordered and info.path > previous
                    previous = last = info.path
            else:
                paths = driver.list("/big")
                count, first, last = len(paths), paths[0], paths[-1]
                ordered = paths == sorted(paths)
                del paths
            report[action] = {
                "count": count,
                "first": first,
                "last": last,
                "sorted": ordered,
                "parent_peak_growth_kib": _kib("self", "VmHWM") - own_before,
                "child_peak_growth_kib": _kib(child, "VmHWM") - child_before,
                "child_rss_before_kib": child_before,
                "parent_cpu_s": round(_own_cpu() - own_cpu, 3),
                "child_cpu_s": round(_child_cpu(child) - child_cpu, 3),
                "wall_s": round(time.monotonic() - started, 3),
            }
    sys.stdout.write(orjson.dumps(report).decode() + "\n")


if __name__ == "__main__":
    main()
