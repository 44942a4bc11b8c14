"""Path rules shared by every driver.

A path is absolute, made of components separated by ``/``: it matches ``^(/[A-Za-z0-9._-]+)+$``, no component is
``.`` or ``..`` and none is longer than 255 characters. Only ``stat``, ``list`` and ``walk`` also accept the root,
``/``. Paths are validated once, by :class:`registry_storage.driver.StorageDriver`, before any driver code runs.
"""

from __future__ import annotations

import re

from registry_storage.errors import InvalidPathError

ROOT = "/"
MAX_COMPONENT_LENGTH = 255
_COMPONENT = re.compile(r"[A-Za-z0-9._-]+")


def check_path(path: object, *, allow_root: bool = False) -> str:
    """Return ``path`` unchanged when it follows the path rules, else raise :class:`InvalidPathError`.

    ``allow_root`` admits ``/`` (for ``stat``, ``list`` and ``walk``).
    """
    if not isinstance(path, str):
        raise InvalidPathError(path, f"a path must be a string, not {type(path).__name__}")
    if path == ROOT:
        if allow_root:
            return path
        raise InvalidPathError(path, "the root is not a file")
    if not path.startswith("/"):
        raise InvalidPathError(path, "a path must start with '/'")
    for component in path[1:].split("/"):
        if not component:
            raise InvalidPathError(path, "empty path component (double or trailing slash)")
        if component in (".", ".."):
            raise InvalidPathError(path, f"component {component!r} is not allowed")
        if len(component) > MAX_COMPONENT_LENGTH:
            raise InvalidPathError(path, f"component longer than {MAX_COMPONENT_LENGTH} characters")
        if not _COMPONENT.fullmatch(component):
            raise InvalidPathError(path, "components may hold only A-Z, a-z, 0-9, '.', '_' and '-'")
    return path


def is_valid_path(path: object, *, allow_root: bool = False) -> bool:
    """True when :func:`check_path` would accept ``path``."""
    try:
        check_path(path, allow_root=allow_root)
    except InvalidPathError:
        return False
    return True


def parent(path: str) -> str:
    """The directory holding ``path`` (``/`` for a top-level path and for the root itself)."""
    head = path.rsplit("/", 1)[0]
    return head or ROOT


def join(directory: str, name: str) -> str:
    """``directory`` and one more component ``name``."""
    return f"/{name}" if directory == ROOT else f"{directory}/{name}"


def ancestors(path: str) -> list[str]:
    """Every proper ancestor of ``path`` from the nearest to ``/`` (``/a/b/c`` gives ``/a/b``, ``/a``, ``/``)."""
    result = []
    while path != ROOT:
        path = parent(path)
        result.append(path)
    return result


def is_within(path: str, directory: str) -> bool:
    """True when ``path`` is ``directory`` itself or lies below it (``/ab`` is not within ``/a``)."""
    if directory == ROOT:
        return True
    return path == directory or path.startswith(directory + "/")


def directory_prefix(path: str) -> str:
    """The prefix every descendant of ``path`` starts with: ``/`` for the root, else ``path + "/"``."""
    return ROOT if path == ROOT else path + "/"


def leading_directories(name: str) -> list[str]:
    """The directories an object-store key or blob name relative to a directory makes exist, outermost first, as
    relative paths: its leading components, up to the first that breaks the path rules (``a/b/c`` and the folder
    placeholder ``a/b/`` give ``a`` and ``a/b``; ``a/with space/c`` gives ``a``; the last component is not one)."""
    directories: list[str] = []
    for component in name.split("/")[:-1]:
        candidate = f"{directories[-1]}/{component}" if directories else component
        if not is_valid_path("/" + candidate):
            break
        directories.append(candidate)
    return directories
