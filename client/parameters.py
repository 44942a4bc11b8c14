"""Which driver parameters are secret, so the proxy keeps them out of the child's command line.

A secret parameter travels through the parameters file (protocol.md section 2) instead of argv[1], where any user
could read it in the process listing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

SECRET_MARKERS = ("key", "secret", "password", "token", "credential", "connectionstring", "sas")
"""A parameter whose name contains one of these (case and ``_``/``-`` ignored) is treated as secret."""


def _normalised(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def is_secret(name: str, explicit: Collection[str] = ()) -> bool:
    """True when ``name`` looks secret (see :data:`SECRET_MARKERS`) or is listed in ``explicit``."""
    if name in explicit:
        return True
    normalised = _normalised(name)
    return any(marker in normalised for marker in SECRET_MARKERS)


def split_parameters(
    parameters: Mapping[str, Any], explicit: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(public, secret)``: the parameters for argv[1] and those for the parameters file."""
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for name, value in parameters.items():
        (secret if is_secret(name, explicit) else public)[name] = value
    return public, secret
