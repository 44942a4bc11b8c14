"""The error of a wrong command line, shared by every module that reads options or configuration files."""

from __future__ import annotations


class UsageError(Exception):
    """The command line is wrong; the CLI prints the message and exits with status 2."""
