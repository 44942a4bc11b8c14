"""``registry-storage url PATH``: the URL a client would be sent to for PATH, middleware applied.

With ``--config``, the registry configuration's ``middleware: storage:`` section (``redirect``, ``rewrite``,
``cloudfront``) rewrites the driver's answer as the registry would; without middleware the driver's own ``url_for``
answers (S3 presigned, Azure SAS), and a driver that cannot make URLs exits with status 1.
"""

from __future__ import annotations

import argparse

from registry_storage.cli.common import add_json_argument, opened, storage_path
from registry_storage.cli.output import print_json
from registry_storage.cli.selection import add_driver_arguments, spec_from_args
from registry_storage.middleware import read_middleware, with_middleware


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``url``."""
    url = subparsers.add_parser("url", help="print the URL a client is sent to for a file", description=run_url.__doc__)
    url.add_argument("path", type=storage_path, metavar="PATH")
    url.add_argument("--expiry", type=int, metavar="SECONDS", help="how long the driver's own URL stays valid")
    add_json_argument(url)
    add_driver_arguments(url)
    url.set_defaults(run=run_url)


def run_url(args: argparse.Namespace) -> int:
    """Print the URL a client would be sent to for PATH: the driver's url_for, through the middleware of --config.

    Exits with status 2 for a bad middleware entry and 1 when the driver cannot make URLs.
    """
    middleware = read_middleware(args.config) if args.config else []
    options = {} if args.expiry is None else {"expiry": args.expiry}
    with opened(spec_from_args(args)) as driver:
        url = with_middleware(driver, middleware).url_for(args.path, **options)
    if args.json:
        print_json({"path": args.path, "url": url})
    else:
        print(url)
    return 0
