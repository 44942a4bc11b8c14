"""The parameters of the Azure driver, named as in a registry's ``storage: azure:`` configuration.

Credentials come either as ``accountname`` and ``accountkey`` (the endpoint is
``https://<accountname>.blob.<realm>`` unless ``serviceurl`` gives it, as Azurite needs) or as one
``connectionstring``. ``accountkey`` and ``connectionstring`` are secrets: they never appear in logs, reprs or error
messages. Every parameter accepts a JSON value or a string (``4194304`` or ``"4194304"``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from registry_storage.errors import InvalidParameterError, InvalidPathError
from registry_storage.parameters import Parameter, accepted_names, parse_parameters, redacted
from registry_storage.paths import check_path

DRIVER_NAME = "azure"

KIB = 1 << 10
MIB = 1 << 20

PAGE_SIZE = 5000
"""The most blobs the service returns per listing request."""

MIN_BLOCK_SIZE = 64 * KIB
MAX_BLOCK_SIZE = 100 * MIB
"""Bounds of ``blocksize``: a block is held in memory while it is staged, so it stays modest."""

PARAMETERS = [
    Parameter("accountname", str, help="name of the storage account (required unless connectionstring is given)"),
    Parameter("accountkey", str, secret=True, help="shared key of the account, base64 (required with accountname)"),
    Parameter("container", str, help="name of the blob container, created when missing (required)"),
    Parameter("realm", str, default="core.windows.net", help="domain of the service: the endpoint's host suffix"),
    Parameter("serviceurl", str, help="endpoint URL of the account, overriding accountname and realm (Azurite)"),
    Parameter("connectionstring", str, secret=True, help="an account connection string, instead of name and key"),
    Parameter("rootdirectory", str, default="", help="blob name prefix under which every path is stored"),
    Parameter(
        "blocksize",
        int,
        default=4 * MIB,
        minimum=MIN_BLOCK_SIZE,
        maximum=MAX_BLOCK_SIZE,
        help="size in bytes of the blocks staged by streamed writes; smaller writes are one upload",
    ),
    Parameter(
        "maxconcurrency", int, default=4, minimum=1, maximum=32, help="blocks staged or fetched at once per call"
    ),
    Parameter(
        "maxretries",
        int,
        default=5,
        minimum=0,
        maximum=20,
        aliases=("max_retries",),
        help="retries of a failed request (the registry 3.x spells it max_retries)",
    ),
    Parameter(
        "retrytimeout", int, default=10, minimum=0, maximum=3600, help="seconds one call may spend retrying in all"
    ),
    Parameter("retry_delay", object, ignored=True, help="the registry's delay between retries; here exponential"),
    Parameter("skipverify", object, ignored=True, help="the registry's switch off TLS verification; here always on"),
    Parameter(
        "credentials",
        object,
        ignored=True,
        help="the registry's credentials type; here only shared_key (accountkey or connectionstring) authenticates",
    ),
]
"""Every parameter the Azure driver accepts."""

_Complaint = Callable[[str, str], InvalidParameterError]
"""Builds the error for a bad parameter from its name and the reason."""

_CONTAINER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_CONNECTION_KEYS = {
    "accountname",
    "accountkey",
    "blobendpoint",
    "defaultendpointsprotocol",
    "endpointsuffix",
    "sharedaccesssignature",
    "usedevelopmentstorage",
    "queueendpoint",
    "tableendpoint",
    "fileendpoint",
    "devstorageproxyuri",
}


@dataclass(frozen=True)
class AzureSettings:
    """The checked parameters of one Azure driver; build it with :meth:`from_parameters`.

    ``account_url`` is the endpoint when name and key are used (None with a connection string); ``blob_prefix`` is
    the root directory as a blob name prefix (``""`` or ending in ``/``). The repr hides the secrets.
    """

    container: str
    accountname: str | None = None
    accountkey: str | None = field(default=None, repr=False)
    realm: str = "core.windows.net"
    serviceurl: str | None = None
    connectionstring: str | None = field(default=None, repr=False)
    rootdirectory: str = ""
    blocksize: int = 4 * MIB
    maxconcurrency: int = 4
    maxretries: int = 5
    retrytimeout: int = 10

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, object] | None) -> AzureSettings:
        """Parse and check ``parameters`` (JSON values or strings).

        Raises InvalidParameterError naming the parameter for an unknown name, a bad value, a missing container or
        credentials, an account key that is not base64, a connection string mixed with name, key, realm or service
        URL, a malformed connection string or service URL, or a root directory that breaks the path rules.
        """
        given = dict(parameters or {})
        values = parse_parameters(DRIVER_NAME, PARAMETERS, given)
        accepted = accepted_names(PARAMETERS)

        def bad(name: str, reason: str) -> InvalidParameterError:
            return InvalidParameterError(name, reason, accepted, driver=DRIVER_NAME)

        _check_credentials(given.get("credentials"), bad)
        for name in ("accountname", "accountkey", "serviceurl", "connectionstring"):
            values[name] = (values[name] or "").strip() or None
        values["container"] = (values["container"] or "").strip()
        _check_container(values["container"], bad)
        values["rootdirectory"] = _root_directory(values["rootdirectory"], bad)
        if not values["realm"].strip():
            raise bad("realm", "must not be empty (default: core.windows.net)")
        values["realm"] = values["realm"].strip().strip(".")
        if values["connectionstring"]:
            clashing = [name for name in ("accountname", "accountkey", "serviceurl", "realm") if given.get(name)]
            if clashing:
                raise bad(
                    "connectionstring",
                    f"give either connectionstring or accountname and accountkey, not both (also got {clashing[0]})",
                )
            _check_connection_string(values["connectionstring"], bad)
        else:
            if not values["accountname"]:
                raise bad("accountname", "required: the storage account name (or give connectionstring instead)")
            if not values["accountkey"]:
                raise bad("accountkey", "required with accountname: the account's shared key")
            _check_account_key(values["accountkey"], bad)
            if values["serviceurl"]:
                values["serviceurl"] = _service_url(values["serviceurl"], bad)
        return cls(**values)

    @property
    def account_url(self) -> str | None:
        """The account's blob endpoint: ``serviceurl``, else ``https://<accountname>.blob.<realm>``."""
        if self.connectionstring:
            return None
        return self.serviceurl or f"https://{self.accountname}.blob.{self.realm}"

    @property
    def blob_prefix(self) -> str:
        """The root directory as a blob name prefix: ``""`` or ``"some/dir/"``."""
        return f"{self.rootdirectory}/" if self.rootdirectory else ""

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with every secret that is set replaced by ``"***"``, for logs."""
        return redacted(PARAMETERS, asdict(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.redacted().items())
        return f"{type(self).__name__}({fields})"


def _check_credentials(credentials: object, bad: _Complaint) -> None:
    """Accept the registry's ``credentials`` only when it asks for the shared key, the one way supported here."""
    if credentials is None:
        return
    kind = credentials.get("type") if isinstance(credentials, dict) else credentials
    if kind not in (None, "", "shared_key"):
        raise bad(
            "credentials",
            f"type {kind!r} (Azure AD) is not supported here: authenticate with accountkey or connectionstring "
            "(type shared_key)",
        )


def _check_container(name: str, bad: _Complaint) -> None:
    if not name:
        raise bad("container", "required: the name of the blob container")
    if not _CONTAINER_NAME.fullmatch(name):
        raise bad(
            "container",
            f"{name!r} is not a container name: 3-63 lowercase letters, digits and single hyphens, "
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


def _check_account_key(key: str, bad: _Complaint) -> None:
    try:
        decoded = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise bad("accountkey", "is not valid base64 (copy the key as the portal shows it)") from None
    if not decoded:
        raise bad("accountkey", "is empty once decoded")


def _check_connection_string(value: str, bad: _Complaint) -> None:
    """Check the shape of ``key=value;...`` without ever echoing the string, which holds the secret."""
    settings: dict[str, str] = {}
    for segment in value.split(";"):
        if not segment.strip():
            continue
        key, separator, setting = segment.partition("=")
        if not separator or not key.strip():
            raise bad("connectionstring", "expected segments of the form Key=Value separated by ';'")
        name = key.strip().lower()
        if name not in _CONNECTION_KEYS:
            raise bad("connectionstring", f"unknown setting {key.strip()!r}")
        settings[name] = setting.strip()
    if settings.get("usedevelopmentstorage", "").lower() == "true":
        return
    if "accountkey" in settings:
        if not settings.get("accountname"):
            raise bad("connectionstring", "AccountKey needs AccountName")
        _check_account_key_in_string(settings["accountkey"], bad)
    elif not ("sharedaccesssignature" in settings and "blobendpoint" in settings):
        raise bad("connectionstring", "needs AccountName and AccountKey, or BlobEndpoint and SharedAccessSignature")


def _check_account_key_in_string(key: str, bad: _Complaint) -> None:
    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise bad("connectionstring", "its AccountKey is not valid base64") from None


def _service_url(value: str, bad: _Complaint) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad("serviceurl", f"{value!r} is not an http:// or https:// URL")
    if parts.query or parts.fragment:
        raise bad("serviceurl", "must not carry a query or fragment (credentials go in accountkey)")
    return value.rstrip("/")
