"""Build the boto3 S3 client of a driver; boto3 is imported here, lazily, and only here.

``import registry_storage.drivers.s3`` works without boto3; creating a driver without it raises
InvalidStorageDriverError telling how to install the ``[s3]`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_storage.errors import InvalidStorageDriverError

from .parameters import DRIVER_NAME, S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_REGION = "us-east-1"
INSTALL_ADVICE = "pip install 'registry-storage[s3]'"


def endpoint_url(settings: S3Settings) -> str | None:
    """The endpoint URL for ``regionendpoint``: as given when it has a scheme, else with http(s) per ``secure``."""
    endpoint = settings.regionendpoint
    if not endpoint:
        return None
    if "://" in endpoint:
        return endpoint
    return f"{'https' if settings.secure else 'http'}://{endpoint}"


def connect(settings: S3Settings, max_connections: int) -> S3Client:
    """Create a thread-safe boto3 S3 client for ``settings`` with a pool of ``max_connections`` connections.

    Credentials come from ``accesskey``/``secretkey``/``sessiontoken`` when set, else from boto3's default chain.
    Raises InvalidStorageDriverError when boto3 is not installed.
    """
    try:
        import boto3.session  # noqa: PLC0415 - boto3 is optional and slow to import
        from botocore.config import Config  # noqa: PLC0415
    except ImportError as error:
        raise InvalidStorageDriverError(
            DRIVER_NAME, f"boto3 is not installed ({error}); install it with {INSTALL_ADVICE}"
        ) from error

    session = boto3.session.Session(
        aws_access_key_id=settings.accesskey,
        aws_secret_access_key=settings.secretkey,
        aws_session_token=settings.sessiontoken,
        region_name=settings.region,
    )
    config = Config(
        signature_version="s3v4",
        max_pool_connections=max_connections,
        retries={"mode": "standard", "max_attempts": 5},
        # Checksums only where the API requires them: S3-compatible stores differ in which ones they accept.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        use_dualstack_endpoint=settings.usedualstack,
        use_fips_endpoint=settings.usefipsendpoint,
        user_agent=settings.useragent,
        s3={
            "addressing_style": "path" if settings.forcepathstyle else "auto",
            "use_accelerate_endpoint": settings.accelerate,
        },
    )
    return session.client(
        "s3",
        region_name=settings.region or session.region_name or DEFAULT_REGION,
        endpoint_url=endpoint_url(settings),
        use_ssl=settings.secure,
        verify=not settings.skipverify,
        config=config,
    )
