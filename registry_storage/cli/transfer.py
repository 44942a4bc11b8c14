"""Copying between drivers: ``cp`` and ``sync``.

Both take a source and a destination, each with its own driver: ``--from-*`` options choose the source driver,
``--to-*`` options the destination driver, and the unprefixed options choose the driver of a side that names none::

    registry-storage sync --from-driver filesystem --from-param rootdirectory=/var/lib/registry \\
                          --to-config s3.yml / /
    registry-storage cp -r --driver filesystem --from-param rootdirectory=/srv/a --to-param rootdirectory=/srv/b \\
                        /docker /docker
    registry-storage cp --driver s3 --config s3.yml /a/b /a/c      # within one store

DESTINATION is always the path the source becomes, never a directory to copy into. Every file is streamed with
bounded memory, ``--jobs`` files at a time, and every destination size is checked against its source at the end.
"""

from __future__ import annotations

import argparse
import inspect
import re
import time
from collections.abc import Callable

from registry_storage.cli.common import (
    DESTINATION_PREFIX,
    SOURCE_PREFIX,
    CommandError,
    add_json_argument,
    add_quiet_argument,
    opened_pair,
    side_spec,
    storage_path,
)
from registry_storage.cli.copying import (
    Copier,
    Plan,
    RateLimit,
    file_sizes,
    plan_copy,
    plan_sync,
    source_files,
    verify_sizes,
)
from registry_storage.cli.output import human_size, print_json, print_lines
from registry_storage.cli.progress import Progress
from registry_storage.cli.selection import DriverSpec, add_driver_arguments
from registry_storage.driver import StorageDriver
from registry_storage.paths import is_within

DEFAULT_JOBS = 4
_RATE = re.compile(r"(\d+(?:\.\d+)?)([kmg]?)(?:i?b)?(?:/s)?", re.IGNORECASE)
_RATE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def byte_rate(text: str) -> float:
    """An argparse type: bytes per second, with an optional binary suffix K, M or G (``20M`` is 20 MiB/s)."""
    match = _RATE.fullmatch(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive rate such as 500K, 20M or 1G, got {text!r}")
    return float(match.group(1)) * _RATE_UNITS[match.group(2).lower()]


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=storage_path, metavar="SOURCE", help="file or directory in the source store")
    parser.add_argument("destination", type=storage_path, metavar="DESTINATION", help="the path it becomes")
    parser.add_argument(
        "-j", "--jobs", type=positive_int, default=DEFAULT_JOBS, help=f"files copied at once (default {DEFAULT_JOBS})"
    )
    parser.add_argument("--limit-rate", type=byte_rate, metavar="RATE", help="cap the total rate, e.g. 20M (MiB/s)")
    add_quiet_argument(parser)
    add_json_argument(parser)
    add_driver_arguments(parser, title="driver of both sides (when a side names none)")
    add_driver_arguments(parser, SOURCE_PREFIX, title="source driver")
    add_driver_arguments(parser, DESTINATION_PREFIX, title="destination driver")


SYNTAX = """\
--from-* options choose the source driver, --to-* options the destination driver; the unprefixed options choose the
driver of a side that names none:

  registry-storage sync --from-driver filesystem --from-param rootdirectory=/var/lib/registry --to-config s3.yml / /
  registry-storage cp -r --driver filesystem --from-param rootdirectory=/a --to-param rootdirectory=/b /x /x
  registry-storage cp --config s3.yml /a/b /a/c

DESTINATION is the path the source becomes, never a directory to copy into.
"""


def _description(run: Callable[[argparse.Namespace], int]) -> str:
    return f"{inspect.cleandoc(run.__doc__ or '')}\n\n{SYNTAX}"


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``cp`` and ``sync``."""
    formatter = argparse.RawDescriptionHelpFormatter
    cp = subparsers.add_parser(
        "cp",
        help="copy a file or tree, within or between drivers",
        description=_description(run_cp),
        formatter_class=formatter,
    )
    cp.add_argument("-r", "--recursive", action="store_true", help="copy a directory and everything below it")
    _add_common(cp)
    cp.set_defaults(run=run_cp)

    sync = subparsers.add_parser(
        "sync",
        help="copy what is missing or differs in size; resumes",
        description=_description(run_sync),
        formatter_class=formatter,
    )
    sync.add_argument("-n", "--dry-run", action="store_true", help="print what would be copied, copy nothing")
    _add_common(sync)
    sync.set_defaults(run=run_sync)


def _specs(args: argparse.Namespace) -> tuple[DriverSpec, DriverSpec]:
    source = side_spec(args, SOURCE_PREFIX, "source")
    destination = side_spec(args, DESTINATION_PREFIX, "destination")
    if source == destination and (is_within(args.destination, args.source) or is_within(args.source, args.destination)):
        raise CommandError(f"{args.source} and {args.destination} overlap in the same store")
    return source, destination


def _execute(args: argparse.Namespace, source: StorageDriver, destination: StorageDriver, plan: Plan) -> float:
    """Run ``plan`` and verify it; returns the seconds the transfers took."""
    rate_limit = RateLimit(args.limit_rate) if args.limit_rate else None
    copier = Copier(
        source, destination, jobs=args.jobs, progress=Progress.for_terminal(args.quiet), rate_limit=rate_limit
    )
    started = time.monotonic()
    copier.run(plan.transfers)
    seconds = time.monotonic() - started
    verify_sizes(destination, plan)
    return seconds


def _side(spec: DriverSpec, path: str) -> dict[str, object]:
    """One side of a copy for --json: the driver or executable and the path (parameters are left out: secrets)."""
    return {"driver": spec.name, "executable": spec.executable, "out_of_process": spec.out_of_process, "path": path}


def _document(args: argparse.Namespace, specs: tuple[DriverSpec, DriverSpec], plan: Plan, seconds: float) -> object:
    return {
        "source": _side(specs[0], args.source),
        "destination": _side(specs[1], args.destination),
        "copied": len(plan.transfers),
        "resumed": plan.resumed,
        "up_to_date": plan.up_to_date,
        "bytes": plan.bytes,
        "seconds": round(seconds, 3),
        "verified": not getattr(args, "dry_run", False),
        "files": [
            {"source": item.source, "destination": item.destination, "size": item.size, "offset": item.offset}
            for item in plan.transfers
        ],
    }


def run_cp(args: argparse.Namespace) -> int:
    """Copy SOURCE to DESTINATION in full, replacing what is there; a directory needs -r.

    Prints nothing on success (a result document with --json). Exits with status 3 when SOURCE does not exist,
    1 when a copy fails or a destination size differs from its source at the end.
    """
    specs = _specs(args)
    with opened_pair(*specs) as (source, destination):
        if source.stat(args.source).is_dir and not args.recursive:
            raise CommandError(f"{args.source} is a directory; use cp -r to copy it and everything below it")
        plan = plan_copy(source_files(source, args.source), args.source, args.destination)
        seconds = _execute(args, source, destination, plan)
    if args.json:
        print_json(_document(args, specs, plan, seconds))
    return 0


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _summary(plan: Plan, seconds: float) -> str:
    if not plan.transfers:
        return f"sync: everything up to date ({_files(plan.up_to_date)}); sizes verified"
    resumed = f" ({plan.resumed} resumed)" if plan.resumed else ""
    rate = f" ({human_size(int(plan.bytes / seconds))}/s)" if seconds > 0 else ""
    return (
        f"sync: copied {_files(len(plan.transfers))}{resumed}, {human_size(plan.bytes)} in {seconds:.1f} s{rate}; "
        f"{plan.up_to_date} up to date; sizes verified"
    )


def _dry_run_lines(plan: Plan) -> list[str]:
    lines = []
    for item in plan.transfers:
        if item.offset:
            lines.append(f"resume {item.source} -> {item.destination} from byte {item.offset} of {item.size}")
        else:
            lines.append(f"copy   {item.source} -> {item.destination} ({item.size} bytes)")
    lines.append(f"would copy {_files(len(plan.transfers))}, {human_size(plan.bytes)}; {plan.up_to_date} up to date")
    return lines


def run_sync(args: argparse.Namespace) -> int:
    """Make DESTINATION hold every file of SOURCE: copy the files missing there or differing in size.

    A destination file shorter than its source is taken as an interrupted copy and resumed from its size, so
    running an interrupted sync again completes it. Nothing at the destination is deleted. At the end every
    destination size is checked against its source. Exits with status 3 when SOURCE does not exist, 1 when a copy
    fails or a size check fails.
    """
    specs = _specs(args)
    seconds = 0.0
    with opened_pair(*specs) as (source, destination):
        files = source_files(source, args.source)
        plan = plan_sync(files, args.source, args.destination, file_sizes(destination, args.destination))
        if not args.dry_run:
            seconds = _execute(args, source, destination, plan)
    if args.json:
        print_json(_document(args, specs, plan, seconds))
    elif args.dry_run:
        print_lines(_dry_run_lines(plan))
    elif not args.quiet:
        print_lines([_summary(plan, seconds)])
    return 0
