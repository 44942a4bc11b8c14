"""The parameters of the S3 driver, named as in a registry's ``storage: s3:`` configuration.

Every parameter accepts a JSON value or a string (``true``/``"true"``, ``5242880``/``"5242880"``). Credentials are
optional: without ``accesskey`` and ``secretkey`` the driver uses boto3's default chain (environment, shared
config files, instance or container roles). ``accesskey``, ``secretkey`` and ``sessiontoken`` are secrets: they
never appear in logs, reprs or error messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from registry_storage.errors import InvalidParameterError
from registry_storage.parameters import Parameter, accepted_names, parse_parameters, redacted

DRIVER_NAME = "s3"

MIB = 1 << 20
GIB = 1 << 30
MIN_PART_SIZE = 5 * MIB
"""The smallest part S3 accepts in a multipart upload, except for the last part."""
MAX_PART_SIZE = 5 * GIB
"""The largest part S3 accepts in a multipart upload, and the largest object CopyObject copies."""

STORAGE_CLASSES = (
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "OUTPOSTS",
    "NONE",
)
"""Accepted ``storageclass`` values; ``NONE`` sends no storage class, leaving the bucket's default."""

PARAMETERS = [
    Parameter("bucket", str, help="name of the bucket holding the objects (required)"),
    Parameter("region", str, help="AWS region of the bucket; default: boto3's configured region, else us-east-1"),
    Parameter("regionendpoint", str, help="endpoint URL of an S3-compatible service (scheme optional)"),
    Parameter("accesskey", str, secret=True, help="access key id; default: boto3's credential chain"),
    Parameter("secretkey", str, secret=True, help="secret access key; default: boto3's credential chain"),
    Parameter("sessiontoken", str, secret=True, help="session token of temporary credentials"),
    Parameter("rootdirectory", str, default="", help="key prefix under which every path is stored"),
    Parameter("forcepathstyle", bool, default=False, help="address the bucket in the path, not the host name"),
    Parameter("secure", bool, default=True, help="use HTTPS (for endpoints given without a scheme)"),
    Parameter("skipverify", bool, default=False, help="do not verify the server's TLS certificate"),
    Parameter("encrypt", bool, default=False, help="server-side encryption of every object written"),
    Parameter("keyid", str, help="KMS key id for server-side encryption (requires encrypt)"),
    Parameter("v4auth", bool, default=True, help="sign requests with Signature Version 4 (the only one supported)"),
    Parameter(
        "chunksize",
        int,
        default=10 * MIB,
        minimum=MIN_PART_SIZE,
        maximum=MAX_PART_SIZE,
        help="part size of multipart uploads in bytes; objects up to 10,000 parts",
    ),
    Parameter(
        "multipartcopychunksize",
        int,
        default=32 * MIB,
        minimum=MIN_PART_SIZE,
        maximum=MAX_PART_SIZE,
        help="part size of server-side multipart copies in bytes",
    ),
    Parameter(
        "multipartcopymaxconcurrency",
        int,
        default=100,
        minimum=1,
        maximum=1000,
        help="parts copied at once by one multipart copy",
    ),
    Parameter(
        "multipartcopythresholdsize",
        int,
        default=32 * MIB,
        minimum=0,
        maximum=MAX_PART_SIZE,
        help="objects larger than this many bytes are moved by multipart copy",
    ),
    Parameter("storageclass", str, default="STANDARD", help=f"storage class: {', '.join(STORAGE_CLASSES)}"),
    Parameter("objectacl", str, help="canned ACL of objects written (for example private); default: none sent"),
    Parameter("usedualstack", bool, default=False, help="use the dual-stack (IPv4 and IPv6) endpoint"),
    Parameter("accelerate", bool, default=False, help="use S3 Transfer Acceleration"),
    Parameter("useragent", str, help="the User-Agent header sent with every request; default: boto3's"),
    Parameter("usefipsendpoint", bool, default=False, help="use the FIPS endpoint of the region"),
    Parameter(
        "redirectendpoint",
        str,
        ignored=True,
        help="the registry's host for redirected blob downloads; url_for presigns on regionendpoint",
    ),
    Parameter("loglevel", object, ignored=True, help="the registry's AWS SDK log level; boto3 logs through logging"),
]
"""Every parameter the S3 driver accepts."""


@dataclass(frozen=True)
class S3Settings:
    """The checked parameters of one S3 driver; build it with :meth:`from_parameters`.

    The repr hides the secrets.
    """

    bucket: str
    region: str | None = None
    regionendpoint: str | None = None
    accesskey: str | None = None
    secretkey: str | None = None
    sessiontoken: str | None = None
    rootdirectory: str = ""
    forcepathstyle: bool = False
    secure: bool = True
    skipverify: bool = False
    encrypt: bool = False
    keyid: str | None = None
    v4auth: bool = True
    chunksize: int = 10 * MIB
    multipartcopychunksize: int = 32 * MIB
    multipartcopymaxconcurrency: int = 100
    multipartcopythresholdsize: int = 32 * MIB
    storageclass: str = "STANDARD"
    objectacl: str | None = None
    usedualstack: bool = False
    accelerate: bool = False
    useragent: str | None = None
    usefipsendpoint: bool = False

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, object] | None) -> S3Settings:
        """Parse and check ``parameters`` (JSON values or strings).

        Raises InvalidParameterError naming the parameter (and the allowed range or values) for an unknown name, a
        bad value, a missing bucket, a key without its secret (or the reverse), or ``keyid`` without ``encrypt``.
        """
        values = parse_parameters(DRIVER_NAME, PARAMETERS, parameters)
        accepted = accepted_names(PARAMETERS)

        def bad(name: str, reason: str) -> InvalidParameterError:
            return InvalidParameterError(name, reason, accepted, driver=DRIVER_NAME)

        if not values["bucket"]:
            raise bad("bucket", "required: the name of the bucket")
        if bool(values["accesskey"]) != bool(values["secretkey"]):
            missing = "secretkey" if values["accesskey"] else "accesskey"
            raise bad(missing, "accesskey and secretkey go together: give both or neither")
        if values["keyid"] and not values["encrypt"]:
            raise bad("keyid", "requires encrypt: true")
        if not values["v4auth"]:
            raise bad("v4auth", "only Signature Version 4 is supported: the allowed value is true")
        storage_class = values["storageclass"].strip().upper()
        if storage_class not in STORAGE_CLASSES:
            raise bad("storageclass", f"{values['storageclass']!r} is not one of {', '.join(STORAGE_CLASSES)}")
        values["storageclass"] = storage_class
        names = (
            "region",
            "regionendpoint",
            "keyid",
            "objectacl",
            "accesskey",
            "secretkey",
            "sessiontoken",
            "useragent",
        )
        for name in names:
            values[name] = values[name] or None
        return cls(**values)

    @property
    def key_prefix(self) -> str:
        """The key prefix of the root directory, without leading or trailing slash ("" for the bucket's root)."""
        return self.rootdirectory.strip("/")

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with every secret that is set replaced by ``"***"``, for logs."""
        return redacted(PARAMETERS, asdict(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.redacted().items())
        return f"{type(self).__name__}({fields})"
