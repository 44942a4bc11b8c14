"""The Google Cloud Storage driver (extra [gcs]): google-cloud-storage objects in one bucket.

Importing this package does not import the SDK; building a driver does, and without the extra it raises
InvalidStorageDriverError saying how to install it.
"""

from .driver import GCSDriver
from .parameters import PARAMETERS, GCSSettings

__all__ = ["PARAMETERS", "GCSDriver", "GCSSettings"]
