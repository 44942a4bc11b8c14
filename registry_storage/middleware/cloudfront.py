"""The ``cloudfront`` middleware: URLs under a CloudFront distribution, signed with a canned policy.

Signed with botocore's :class:`~botocore.signers.CloudFrontSigner` and an RSA key read with ``cryptography`` (the
``[cloudfront]`` extra). The URL is ``baseurl`` + path, valid for ``duration`` (default 20 minutes), with the
``Expires``, ``Signature`` and ``Key-Pair-Id`` query parameters CloudFront checks. The registry's IP filtering
(``ipfilteredby`` other than ``none``, ``awsregion``, ``updatefrequency``, ``iprangesurl``), which sends clients
inside AWS straight to S3, is not implemented: those options are refused.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from .base import InnerURL, URLMiddleware, check_options, option_error, text_option
from .redirect import parse_base_url

DEFAULT_DURATION = 20 * 60.0
"""Seconds a signed URL stays valid when ``duration`` is not given (the registry's 20 minutes)."""

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: object) -> float:
    """Seconds in a Go duration string (``"20m"``, ``"1h30m"``, ``"3000s"``) or a number of seconds.

    Raises ValueError for anything else, or a duration that is not positive.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and value:
        position, seconds = 0, 0.0
        while position < len(value):
            match = _DURATION_PART.match(value, position)
            if match is None:
                raise ValueError(f"not a duration like 20m or 3000s: {value!r}")
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            position = match.end()
    else:
        raise ValueError(f"not a duration: {value!r}")
    if not seconds > 0:
        raise ValueError(f"a duration must be positive: {value!r}")
    return seconds


def _rsa_signer(pem: bytes, where: str) -> Callable[[bytes], bytes]:
    """The SHA-1 RSA signer CloudFront wants, for the PEM private key ``pem``."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415 - the [cloudfront] extra
        from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: PLC0415
    except ImportError:
        raise option_error(
            "cloudfront", "", "needs the cryptography package: pip install registry-storage[cloudfront]"
        ) from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise option_error(
            "cloudfront", "privatekey", f"{where} is not an unencrypted PEM private key ({error})"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise option_error("cloudfront", "privatekey", f"{where} is not an RSA key")

    def sign(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA1())

    return sign


class CloudFront(URLMiddleware):
    """Sends clients to ``baseurl`` + path on a CloudFront distribution, signed by key pair ``keypairid``.

    ``privatekey`` is the path of the PEM file (as in the registry's configuration); ``private_key_pem`` its content
    instead. Raises InvalidParameterError for a missing option, an unreadable or non-RSA key, a bad duration.
    """

    name = "cloudfront"
    accepted = ("baseurl", "privatekey", "keypairid", "duration", "ipfilteredby")

    def __init__(
        self,
        baseurl: str,
        keypairid: str,
        *,
        privatekey: str = "",
        private_key_pem: bytes | None = None,
        duration: float = DEFAULT_DURATION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            from botocore.signers import CloudFrontSigner  # noqa: PLC0415 - the [cloudfront] extra
        except ImportError:
            raise option_error(self.name, "", "needs botocore: pip install registry-storage[cloudfront]") from None
        self._base = parse_base_url(self.name, baseurl).geturl().rstrip("/")
        if not keypairid:
            raise option_error(self.name, "keypairid", "is required")
        if private_key_pem is None:
            if not privatekey:
                raise option_error(self.name, "privatekey", "is required")
            try:
                with open(privatekey, "rb") as key_file:
                    private_key_pem = key_file.read()
            except OSError as error:
                raise option_error(self.name, "privatekey", f"cannot read {privatekey}: {error.strerror}") from None
        if not duration > 0:
            raise option_error(self.name, "duration", f"must be positive, not {duration!r}")
        self.duration = duration
        self._clock = clock
        self._signer = CloudFrontSigner(keypairid, _rsa_signer(private_key_pem, privatekey or "the key"))

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CloudFront:
        """From the entry's ``options`` (the registry's names); raises InvalidParameterError for a bad one."""
        check_options(cls.name, options, cls.accepted)
        filtered = text_option(cls.name, options, "ipfilteredby") or "none"
        if filtered != "none":
            raise option_error(cls.name, "ipfilteredby", f"{filtered!r} is not supported (only none)")
        duration = DEFAULT_DURATION
        if options.get("duration") not in (None, ""):
            try:
                duration = parse_duration(options["duration"])
            except ValueError as error:
                raise option_error(cls.name, "duration", str(error)) from None
        return cls(
            text_option(cls.name, options, "baseurl", required=True),
            text_option(cls.name, options, "keypairid", required=True),
            privatekey=text_option(cls.name, options, "privatekey", required=True),
            duration=duration,
        )

    def url_for(self, path: str, options: Mapping[str, Any], inner: InnerURL) -> str:
        expires = datetime.fromtimestamp(int(self._clock() + self.duration), tz=timezone.utc)
        url: str = self._signer.generate_presigned_url(self._base + path, date_less_than=expires)
        return url


__all__ = ["DEFAULT_DURATION", "CloudFront", "parse_duration"]
