"""The S3 driver (extra [s3]): boto3 against Amazon S3 or any S3-compatible store.

Importing this package does not import boto3; creating a driver does, and raises InvalidStorageDriverError naming
the ``registry-storage[s3]`` extra when boto3 is missing.
"""

from .driver import S3Driver
from .parameters import PARAMETERS, S3Settings

__all__ = ["PARAMETERS", "S3Driver", "S3Settings"]
