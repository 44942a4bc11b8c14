"""The parameters of the GCS driver, named as in a registry's ``storage: gcs:`` configuration.

Credentials: ``keyfile`` (the path of a service-account JSON key) or ``credentials`` (the same key inline, as a
mapping), else Google's application-default credentials. With an emulator (the ``endpoint`` parameter, or the
``STORAGE_EMULATOR_HOST`` variable the Google client libraries and the Go registry honour) no credentials are needed.
``credentials`` is secret: it never appears in logs, reprs or error messages. Every parameter accepts a JSON value or
a string (``16777216`` or ``"16777216"``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from registry_storage.errors import InvalidParameterError, InvalidPathError
from registry_storage.parameters import Parameter, parse_parameters, redacted
from registry_storage.paths import check_path

DRIVER_NAME = "gcs"

KIB = 1 << 10
MIB = 1 << 20

CHUNK_GRANULE = 256 * KIB
"""Resumable uploads send chunks in multiples of this many bytes (all but the last)."""
DEFAULT_CHUNK_SIZE = 16 * MIB
"""The registry's default ``chunksize``."""
MAX_CHUNK_SIZE = 256 * MIB
"""The largest ``chunksize``: one chunk is held in memory per write."""

EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"
"""The environment variable naming an emulator's endpoint, as the Google client libraries read it."""

PARAMETERS = [
    Parameter("bucket", str, help="name of the bucket holding the objects (required)"),
    Parameter("rootdirectory", str, default="", help="object name prefix under which every path is stored"),
    Parameter(
        "chunksize",
        int,
        default=DEFAULT_CHUNK_SIZE,
        minimum=CHUNK_GRANULE,
        maximum=MAX_CHUNK_SIZE,
        help="bytes per request of a resumable upload, a multiple of 262144; smaller writes are one request",
    ),
    Parameter("keyfile", str, help="path of a service-account JSON key file"),
    Parameter("credentials", dict, secret=True, help="a service-account JSON key inline, as a mapping"),
    Parameter("useragent", str, help="User-Agent sent with every request, before the library's own"),
    Parameter(
        "maxconcurrency", int, default=50, minimum=1, maximum=1000, help="requests one driver makes at once, at most"
    ),
    Parameter("endpoint", str, help=f"endpoint URL of an emulator (default: ${EMULATOR_VARIABLE}); no credentials"),
]
"""Every parameter the GCS driver accepts."""

_Complaint = Callable[[str, str], InvalidParameterError]

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_KEY_FIELDS = ("type", "client_email", "private_key")
"""Fields a service-account key must carry."""


@dataclass(frozen=True)
class GCSSettings:
    """The checked parameters of one GCS driver; build it with :meth:`from_parameters`.

    ``endpoint`` is the emulator's URL (from the parameter or ``STORAGE_EMULATOR_HOST``), None for Google's service.
    ``credentials`` holds the service-account key, read from ``keyfile`` when that is given. The repr hides it.
    """

    bucket: str
    rootdirectory: str = ""
    chunksize: int = DEFAULT_CHUNK_SIZE
    keyfile: str | None = None
    credentials: dict[str, Any] | None = field(default=None, repr=False)
    useragent: str | None = None
    maxconcurrency: int = 50
    endpoint: str | None = None

    @classmethod
    def from_parameters(
        cls, parameters: Mapping[str, object] | None, environ: Mapping[str, str] | None = None
    ) -> GCSSettings:
        """Parse and check ``parameters`` (JSON values or strings); ``environ`` defaults to ``os.environ``.

        Raises InvalidParameterError naming the parameter for an unknown name, a bad value, a missing or malformed
        bucket, a chunk size that is not a multiple of 256 KiB, both ``keyfile`` and ``credentials``, a key file that
        cannot be read or a key that is not a service-account key, a malformed endpoint, or a root directory that
        breaks the path rules.
        """
        values = parse_parameters(DRIVER_NAME, PARAMETERS, parameters)
        accepted = [parameter.name for parameter in PARAMETERS]

        def bad(name: str, reason: str) -> InvalidParameterError:
            return InvalidParameterError(name, reason, accepted, driver=DRIVER_NAME)

        values["bucket"] = (values["bucket"] or "").strip()
        _check_bucket(values["bucket"], bad)
        values["rootdirectory"] = _root_directory(values["rootdirectory"], bad)
        if values["chunksize"] % CHUNK_GRANULE:
            raise bad("chunksize", f"{values['chunksize']} is not a multiple of {CHUNK_GRANULE} (256 KiB)")
        for name in ("keyfile", "useragent", "endpoint"):
            values[name] = (values[name] or "").strip() or None
        if values["keyfile"] and values["credentials"]:
            raise bad("credentials", "give either keyfile or credentials, not both")
        if values["keyfile"]:
            values["credentials"] = _read_key_file(values["keyfile"], bad)
        if values["credentials"] is not None:
            _check_key(values["credentials"], "keyfile" if values["keyfile"] else "credentials", bad)
        endpoint = values["endpoint"] or (environ if environ is not None else os.environ).get(EMULATOR_VARIABLE)
        values["endpoint"] = _endpoint(endpoint, bad) if endpoint else None
        return cls(**values)

    @property
    def object_prefix(self) -> str:
        """The root directory as an object name prefix: ``""`` or ``"some/dir/"``."""
        return f"{self.rootdirectory}/" if self.rootdirectory else ""

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with every secret that is set replaced by ``"***"``, for logs."""
        return redacted(PARAMETERS, asdict(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.redacted().items())
        return f"{type(self).__name__}({fields})"


def _check_bucket(name: str, bad: _Complaint) -> None:
    if not name:
        raise bad("bucket", "required: the name of the bucket")
    if not _BUCKET_NAME.fullmatch(name) or ".." in name:
        raise bad(
            "bucket",
            f"{name!r} is not a bucket name: 3-222 lowercase letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit",
        )


def _root_directory(value: str, bad: _Complaint) -> str:
    """``value`` without leading or trailing slashes, checked against the path rules."""
    stripped = value.strip().strip("/")
    if not stripped:
        return ""
    try:
        check_path("/" + stripped)
    except InvalidPathError as error:
        raise bad("rootdirectory", f"{value!r}: {error.reason}") from None
    return stripped


def _read_key_file(path: str, bad: _Complaint) -> dict[str, Any]:
    import json  # noqa: PLC0415 - only for key files

    try:
        with open(path, "rb") as file:
            key = json.load(file)
    except OSError as error:
        raise bad("keyfile", f"cannot read {path!r}: {error.strerror or error}") from None
    except ValueError:
        raise bad("keyfile", f"{path!r} does not hold JSON") from None
    if not isinstance(key, dict):
        raise bad("keyfile", f"{path!r} does not hold a JSON object")
    return key


def _check_key(key: Mapping[str, Any], name: str, bad: _Complaint) -> None:
    """A service-account key has its type, email and private key; the message never shows a value."""
    missing = [field for field in _KEY_FIELDS if not isinstance(key.get(field), str) or not key.get(field)]
    if missing:
        raise bad(name, f"not a service-account key: missing {', '.join(missing)}")
    if key["type"] != "service_account":
        raise bad(name, "not a service-account key: its type is not service_account")


def _endpoint(value: str, bad: _Complaint) -> str:
    """The emulator endpoint as ``scheme://host[:port]`` (``http`` when no scheme is given)."""
    text = value.strip().rstrip("/")
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise bad("endpoint", f"{value!r} is not an endpoint URL like http://127.0.0.1:4443")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise bad("endpoint", f"{value!r} has a bad port") from None
    return text
