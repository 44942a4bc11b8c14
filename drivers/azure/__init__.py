"""The Azure Blob Storage driver (extra [azure]): azure-storage-blob block blobs."""
