"""Reading a registry's own configuration file as the registry (distribution 2.x and 3.x) reads it.

Only the ``storage:`` section matters here. It holds one driver section (``filesystem:``, ``s3:``, ``s3aws:``,
``azure:``, ``gcs:``, ...) beside registry options that are not drivers (``cache``, ``delete``, ``maintenance``,
``redirect``, ``tag``); it may also be just a driver name (``storage: inmemory``). The driver section's keys are
passed to the driver unchanged, so each driver decides, from its declared parameters, what it accepts.

The registry's environment overrides apply over the file, as the registry applies them: the variables are taken in
lexical order, so ``REGISTRY_STORAGE=s3`` (which replaces the whole section by an empty ``s3:`` driver) comes before
``REGISTRY_STORAGE_S3_ACCESSKEY=...``, which sets ``storage.s3.accesskey``. Each ``_`` after ``REGISTRY`` descends
one level, keys are matched case-insensitively and created in lower case, and an empty value leaves the key unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from registry_storage.cli.usage import UsageError

ENVIRONMENT_PREFIX = "REGISTRY_STORAGE"
REGISTRY_OPTIONS = ("cache", "delete", "maintenance", "redirect", "tag")
"""Keys of ``storage:`` that configure the registry itself, not a driver."""


def read_registry_config(path: str, environ: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The driver name and parameters of the registry configuration file ``path`` with ``environ``'s overrides.

    Raises UsageError, saying what is wrong, for a file that cannot be read or is not YAML, a ``storage:`` section
    that is missing or not a mapping, a driver section that is not a mapping, or not exactly one driver section
    (naming the sections found).
    """
    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except OSError as error:
        raise UsageError(f"cannot read config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"config {path} is not valid YAML: {error}") from None
    if document is not None and not isinstance(document, dict):
        raise UsageError(f"config {path} is not a YAML mapping")
    storage = _storage_section((document or {}).get("storage"), path)
    storage = apply_environment(storage, environ)
    if not storage:
        raise UsageError(f"config {path} has no storage: section (nor ${ENVIRONMENT_PREFIX})")
    drivers = sorted(str(key) for key in storage if str(key) not in REGISTRY_OPTIONS)
    if len(drivers) != 1:
        found = ", ".join(drivers) if drivers else "none"
        raise UsageError(f"config {path}: the storage: section must name exactly one driver, found {found}")
    name = drivers[0]
    parameters = storage[name]
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise UsageError(f"config {path}: storage.{name} must be a mapping of parameters")
    return name, {str(key): value for key, value in parameters.items()}


def _storage_section(section: object, path: str) -> dict[str, Any]:
    if section is None:
        return {}
    if isinstance(section, str):
        return {section: {}}
    if not isinstance(section, dict):
        raise UsageError(f"config {path}: storage: must be a mapping or a driver name")
    return {str(key): value for key, value in section.items()}


def apply_environment(storage: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``storage`` with the registry's ``REGISTRY_STORAGE*`` overrides from ``environ`` applied, in lexical order."""
    for variable in sorted(environ):
        value = environ[variable]
        if variable == ENVIRONMENT_PREFIX:
            if value.strip():
                storage = {value.strip(): {}}
        elif variable.startswith(ENVIRONMENT_PREFIX + "_"):
            keys = variable[len(ENVIRONMENT_PREFIX) + 1 :].split("_")
            if all(keys):
                _override(storage, keys, value)
    return storage


def _override(mapping: dict[str, Any], keys: list[str], value: str) -> None:
    """Set ``value`` at ``keys`` below ``mapping``, matching existing keys case-insensitively, as the registry does."""
    first, rest = keys[0], keys[1:]
    existing = next((key for key in mapping if str(key).upper() == first.upper()), None)
    if rest and existing is not None and isinstance(mapping[existing], dict):
        _override(mapping[existing], rest, value)
        return
    if existing is not None:
        del mapping[existing]
    if rest:
        child: dict[str, Any] = {}
        _override(child, rest, value)
        mapping[first.lower()] = child
    else:
        mapping[first.lower()] = value if value != "" else None
