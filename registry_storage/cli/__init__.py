"""The ``registry-storage`` command: check drivers, and look at and move data in any store.

Errors are one line, ``registry-storage: <message>``, with distinct exit statuses: 2 for usage, 3 for a path not
found, 1 for anything else; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn, cast

from registry_storage import __version__
from registry_storage.cli import browse, check, files, listing, transfer, urls
from registry_storage.cli.output import BrokenOutputError, one_line
from registry_storage.cli.selection import UsageError
from registry_storage.errors import InvalidParameterError, InvalidStorageDriverError, PathNotFoundError
from registry_storage.observability import CallSummary, add_recorder, remove_recorder

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_BROKEN_PIPE = 141
PROGRAM = "registry-storage"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, ``registry-storage: <message>``, with status 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix(PROGRAM).strip()
        where = f"{command}: " if command else ""
        self.exit(EXIT_USAGE, f"{PROGRAM}: {where}{message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog=PROGRAM, description=__doc__)
    parser.add_argument("--version", action="version", version=f"registry-storage {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument(
        "--trace", action="store_true", help="print a per-call timing summary of the storage calls to stderr at the end"
    )
    subparsers = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(title="commands", metavar="COMMAND"),
    )
    check.add_parser(subparsers)
    browse.add_parsers(subparsers)
    files.add_parsers(subparsers)
    transfer.add_parsers(subparsers)
    listing.add_parser(subparsers)
    urls.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns (and, as a console script, exits with) the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    summary = CallSummary() if args.trace else None
    if summary is not None:
        add_recorder(summary)
    try:
        status: int = args.run(args)
    except UsageError as error:
        return _fail(args, error, EXIT_USAGE)
    except (InvalidParameterError, InvalidStorageDriverError) as error:
        return _fail(args, error, EXIT_USAGE)
    except (PathNotFoundError, FileNotFoundError) as error:
        return _fail(args, error, EXIT_NOT_FOUND)
    except BrokenOutputError:
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the CLI's promise: one line, no traceback, unless --debug
        return _fail(args, error, EXIT_FAILURE)
    finally:
        if summary is not None:
            remove_recorder(summary)
            sys.stderr.write(summary.report())
    return status


def _fail(args: argparse.Namespace, error: BaseException, status: int) -> int:
    if args.debug:
        traceback.print_exception(error)
    print(f"registry-storage: {one_line(error)}", file=sys.stderr)
    return status


def console_main() -> None:
    """Entry point of the ``registry-storage`` console script."""
    sys.exit(main())
