"""Driver parameters: declared once per driver, parsed from JSON values or strings, checked with clear errors.

Operators pass parameters as a JSON object (argv[1] of a driver executable) or as strings (a YAML config, a
``--param key=value`` flag), so every typed parameter accepts both ``true`` and ``"true"``, ``5`` and ``"5"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registry_storage.errors import InvalidParameterError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Parameter:
    """One parameter a driver accepts.

    ``kind`` is ``str``, ``int``, ``bool`` or ``dict`` (a mapping, or a JSON object as text, as a ``--param`` flag
    gives it); ``minimum``/``maximum`` bound an ``int``; ``secret`` keeps the value
    out of logs, reprs and process listings.
    """

    name: str
    kind: type = str
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    secret: bool = False
    help: str = ""

    def parse(self, value: object, driver: str, accepted: list[str]) -> Any:
        """Convert ``value`` to this parameter's kind or raise InvalidParameterError naming it."""

        def bad(reason: str) -> InvalidParameterError:
            return InvalidParameterError(self.name, reason, accepted, driver=driver)

        if self.kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise bad(f"expected a boolean (true or false), got {value!r}")
        if self.kind is int:
            if isinstance(value, bool):
                raise bad(f"expected an integer, got {value!r}")
            if isinstance(value, str):
                try:
                    value = int(value.strip())
                except ValueError:
                    raise bad(f"expected an integer, got {value!r}") from None
            if not isinstance(value, int):
                raise bad(f"expected an integer, got {value!r}")
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise bad(f"{value} is outside the allowed range {self.minimum}..{self.maximum}")
            return value
        if self.kind is dict:
            return _mapping(value, bad)
        if not isinstance(value, str):
            raise bad(f"expected a string, got {type(value).__name__}")
        return value


def _mapping(value: object, bad: Any) -> dict[str, Any]:
    """``value`` as a dict with string keys: a mapping as it is, or text holding a JSON object (never echoed: a
    mapping parameter may be secret)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad("expected a mapping or a JSON object, got text that is not JSON") from None
    if not isinstance(value, Mapping):
        raise bad(f"expected a mapping or a JSON object, got {type(value).__name__}")
    if not all(isinstance(key, str) for key in value):
        raise bad("every key of the mapping must be a string")
    return dict(value)


def parse_parameters(driver: str, declared: list[Parameter], given: Mapping[str, object] | None) -> dict[str, Any]:
    """Return every declared parameter's value (given or default), checked and converted.

    Raises InvalidParameterError, listing the accepted names, for an unknown name or a bad value.
    """
    given = dict(given or {})
    accepted = [parameter.name for parameter in declared]
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise InvalidParameterError(unknown[0], "unknown parameter", accepted, driver=driver)
    values: dict[str, Any] = {}
    for parameter in declared:
        value = given.get(parameter.name)
        values[parameter.name] = parameter.default if value is None else parameter.parse(value, driver, accepted)
    return values


def redacted(declared: list[Parameter], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every secret parameter that is set replaced by ``"***"``, for logs and reprs."""
    secrets = {parameter.name for parameter in declared if parameter.secret}
    return {key: ("***" if key in secrets and value is not None else value) for key, value in values.items()}
