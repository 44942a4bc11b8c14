"""The Azure Blob Storage driver (extra [azure]): azure-storage-blob block blobs.

Importing this package does not import the SDK; building a driver does, and without the extra it raises
InvalidStorageDriverError saying how to install it.
"""

from .driver import AzureDriver
from .parameters import PARAMETERS, AzureSettings

__all__ = ["PARAMETERS", "AzureDriver", "AzureSettings"]
