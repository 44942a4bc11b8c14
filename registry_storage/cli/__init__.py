"""The ``registry-storage`` command: check drivers, and look at and move data in any store.

Errors are one line, ``registry-storage: <message>``, with distinct exit statuses: 2 for usage, 3 for a path not
found, 1 for anything else; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from registry_storage import __version__
from registry_storage.cli import check
from registry_storage.cli.selection import UsageError
from registry_storage.errors import InvalidParameterError, InvalidStorageDriverError, PathNotFoundError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="registry-storage", description=__doc__)
    parser.add_argument("--version", action="version", version=f"registry-storage {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    check.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns (and, as a console script, exits with) the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    try:
        status: int = args.run(args)
    except UsageError as error:
        return _fail(args, error, EXIT_USAGE)
    except (InvalidParameterError, InvalidStorageDriverError) as error:
        return _fail(args, error, EXIT_USAGE)
    except PathNotFoundError as error:
        return _fail(args, error, EXIT_NOT_FOUND)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI's promise: one line, no traceback, unless --debug
        return _fail(args, error, EXIT_FAILURE)
    return status


def _fail(args: argparse.Namespace, error: BaseException, status: int) -> int:
    if args.debug:
        traceback.print_exception(error)
    print(f"registry-storage: {error}", file=sys.stderr)
    return status


def console_main() -> None:
    """Entry point of the ``registry-storage`` console script."""
    sys.exit(main())
