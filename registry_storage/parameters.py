"""Driver parameters: declared once per driver, parsed from JSON values or strings, checked with clear errors.

Operators pass parameters as a JSON object (argv[1] of a driver executable) or as strings (a YAML config, a
``--param key=value`` flag, a registry environment override), so every typed parameter accepts both ``true`` and
``"true"``, ``5`` and ``"5"``. Integers also take the forms the registry (Go's ``strconv.ParseInt`` with base 0)
accepts: ``0x500000``, ``0o755``, ``0755``, ``0b101``, ``5_242_880``.

A registry configuration may carry parameters that mean nothing here (``maxthreads`` of the filesystem driver, the
s3 driver's ``loglevel``): they are declared with ``ignored=True``, accepted with any value, logged once per process
at INFO, and never reach the driver. A parameter may also be known under other names (``aliases``), as the
registry's 3.x azure driver spells ``maxretries`` ``max_retries``. An undeclared name is refused.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registry_storage.errors import InvalidParameterError

logger = logging.getLogger(__name__)

_TRUE = {"true", "1", "yes", "on", "t"}
_FALSE = {"false", "0", "no", "off", "f"}
_GO_OCTAL = re.compile(r"[+-]?0[0-7_]+")
"""Go's base-0 octal form without a prefix (``0755``), which Python's ``int(text, 0)`` refuses."""

_logged_ignored: set[tuple[str, str]] = set()
_logged_lock = threading.Lock()


@dataclass(frozen=True)
class Parameter:
    """One parameter a driver accepts.

    ``kind`` is ``str``, ``int``, ``bool``, ``dict`` (a mapping, or a JSON object as text, as a ``--param`` flag gives
    it) or ``object`` (any JSON value, for a registry parameter accepted and ignored); ``minimum``/``maximum`` bound
    an ``int``; ``secret`` keeps the value out of logs, reprs and process listings; ``ignored`` marks a registry
    parameter that is accepted and has no effect here; ``aliases`` are other names of the same parameter; ``help``
    says what it does here.
    """

    name: str
    kind: type = str
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    secret: bool = False
    help: str = ""
    ignored: bool = False
    aliases: tuple[str, ...] = ()

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
                parsed = parse_integer(value)
                if parsed is None:
                    raise bad(f"expected an integer (such as 5242880 or 0x500000), got {value!r}")
                value = parsed
            if not isinstance(value, int):
                raise bad(f"expected an integer, got {value!r}")
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise bad(f"{value} is outside the allowed range {self.minimum}..{self.maximum}")
            return value
        if self.kind is object:
            return value
        if self.kind is dict:
            return _mapping(value, bad)
        if not isinstance(value, str):
            raise bad(f"expected a string, got {type(value).__name__}")
        return value


def parse_integer(text: str) -> int | None:
    """``text`` as an integer in the forms Go's ``strconv.ParseInt(text, 0, 64)`` accepts, or None.

    Decimal, ``0x``/``0o``/``0b`` prefixes, a leading ``0`` for octal, underscores between digits, a sign.
    """
    text = text.strip()
    try:
        if _GO_OCTAL.fullmatch(text):
            return int(text.replace("0", "0o", 1), 8) if not text.startswith(("+", "-")) else int(text, 8)
        return int(text, 0)
    except ValueError:
        return None


def accepted_names(declared: list[Parameter]) -> list[str]:
    """Every name ``declared`` accepts: each parameter's name and its aliases."""
    return [name for parameter in declared for name in (parameter.name, *parameter.aliases)]


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

    A value given under an alias counts for its parameter. Ignored parameters are accepted with any value, logged
    once per process at INFO and left out of the result. Raises InvalidParameterError, listing the accepted names,
    for an unknown name, a bad value, or one parameter given under two of its names.
    """
    given = dict(given or {})
    accepted = accepted_names(declared)
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise InvalidParameterError(unknown[0], "unknown parameter", accepted, driver=driver)
    values: dict[str, Any] = {}
    for parameter in declared:
        names = [name for name in (parameter.name, *parameter.aliases) if given.get(name) is not None]
        if len(names) > 1:
            raise InvalidParameterError(
                names[1], f"is another name of {names[0]!r}: give only one of them", accepted, driver=driver
            )
        value = given[names[0]] if names else None
        if parameter.ignored:
            if names:
                _log_ignored(driver, names[0])
            continue
        values[parameter.name] = parameter.default if value is None else parameter.parse(value, driver, accepted)
    return values


def _log_ignored(driver: str, name: str) -> None:
    with _logged_lock:
        if (driver, name) in _logged_ignored:
            return
        _logged_ignored.add((driver, name))
    logger.info("%s driver: parameter %r is accepted for compatibility and has no effect here", driver, name)


def redacted(declared: list[Parameter], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every secret parameter that is set replaced by ``"***"``, for logs and reprs."""
    secrets = {parameter.name for parameter in declared if parameter.secret}
    return {key: ("***" if key in secrets and value is not None else value) for key, value in values.items()}
