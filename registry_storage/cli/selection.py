"""Choosing a driver on the command line: ``--driver``, ``--param``/``--params``, ``--exec``, ``--config``.

A registry configuration file names the driver as the one key of its ``storage:`` section that is not a
registry setting (``cache``, ``maintenance``, ``delete``, ``redirect``, ``tag``), and the registry's
``REGISTRY_STORAGE_*`` environment overrides apply over it (see :mod:`registry_storage.cli.registry_config`)::

    storage:
      s3:
        bucket: my-registry
        region: us-east-1

``--param KEY=VALUE`` and ``--params JSON`` apply over the file; ``--param KEY=`` (an empty value) removes ``KEY``,
so the driver uses its default.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from typing import Any

from registry_storage.cli.registry_config import read_registry_config
from registry_storage.cli.usage import UsageError
from registry_storage.driver import StorageDriver
from registry_storage.errors import InvalidStorageDriverError
from registry_storage.factory import create, launch_executable

__all__ = ["DriverSpec", "UsageError", "add_driver_arguments", "open_driver", "read_config", "spec_from_args"]


@dataclass
class DriverSpec:
    """Which driver to open: a name (in process or out) or an executable, with its parameters."""

    name: str | None = None
    executable: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    out_of_process: bool = False

    def describe(self) -> str:
        """A short human description, for headers and errors."""
        what = f"executable {self.executable}" if self.executable else f"driver {self.name}"
        return what + (" (out of process)" if self.out_of_process and not self.executable else "")


def add_driver_arguments(parser: argparse.ArgumentParser, prefix: str = "", title: str = "driver") -> None:
    """Add the driver-choosing options, named ``--<prefix>driver`` etc., to ``parser``."""
    group = parser.add_argument_group(title)
    group.add_argument(f"--{prefix}driver", metavar="NAME", help="driver name (filesystem, inmemory, s3, azure, ...)")
    group.add_argument(
        f"--{prefix}param",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="one driver parameter (repeatable); KEY= removes KEY given by --config",
    )
    group.add_argument(f"--{prefix}params", metavar="JSON", help="driver parameters as a JSON object")
    group.add_argument(f"--{prefix}exec", metavar="PATH", help="run this driver executable (any language)")
    group.add_argument(
        f"--{prefix}config",
        metavar="FILE",
        help="a registry's configuration file: its storage: section, with REGISTRY_STORAGE_* overrides",
    )
    group.add_argument(
        f"--{prefix}out-of-process",
        action="store_true",
        help="run even a built-in driver as a child process",
    )


def _parse_params(text: str | None, pairs: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if text:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"--params is not valid JSON: {error}") from None
        if not isinstance(loaded, dict):
            raise UsageError("--params must be a JSON object")
        parameters.update(loaded)
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise UsageError(f"--param expects KEY=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


def read_config(path: str) -> tuple[str, dict[str, Any]]:
    """The driver name and parameters of the registry configuration file ``path``, with the environment's overrides.

    Raises UsageError for a file the registry would not run with (see :func:`read_registry_config`).
    """
    return read_registry_config(path, os.environ)


def spec_from_args(args: argparse.Namespace, prefix: str = "", default: DriverSpec | None = None) -> DriverSpec:
    """The DriverSpec the options added by :func:`add_driver_arguments` describe (``default`` when none given)."""
    attr = prefix.replace("-", "_")
    name = getattr(args, f"{attr}driver")
    executable = getattr(args, f"{attr}exec")
    config = getattr(args, f"{attr}config")
    parameters = _parse_params(getattr(args, f"{attr}params"), getattr(args, f"{attr}param"))
    out_of_process = bool(getattr(args, f"{attr}out_of_process"))
    if sum(bool(choice) for choice in (name, executable, config)) > 1:
        raise UsageError(f"choose one of --{prefix}driver, --{prefix}exec and --{prefix}config")
    if config:
        name, from_config = read_config(config)
        parameters = {**from_config, **parameters}
    removed = {key for key, _, value in (pair.partition("=") for pair in getattr(args, f"{attr}param")) if not value}
    parameters = {key: value for key, value in parameters.items() if key not in removed}
    if executable:
        if not os.access(executable, os.X_OK):
            raise UsageError(f"--{prefix}exec {executable}: not an executable file")
        return DriverSpec(executable=executable, parameters=parameters, out_of_process=True)
    if name:
        return DriverSpec(name=name, parameters=parameters, out_of_process=out_of_process)
    if default is not None:
        return default
    raise UsageError(f"choose a driver with --{prefix}driver, --{prefix}exec or --{prefix}config")


def open_driver(spec: DriverSpec, **launch_options: Any) -> StorageDriver:
    """Create the driver ``spec`` describes; ``launch_options`` shape a child's proxy (``timeout``...).

    Raises InvalidStorageDriverError or the driver's parameter errors.
    """
    if spec.executable:
        name = os.path.basename(spec.executable).removeprefix("registry-storage-")
        return launch_executable(spec.executable, name, spec.parameters, **launch_options)
    if not spec.name:
        raise InvalidStorageDriverError("", "no driver name given")
    return create(spec.name, spec.parameters, out_of_process=spec.out_of_process, **launch_options)
