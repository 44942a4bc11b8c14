"""Serve any StorageDriver over the registry-storage protocol on stdin/stdout."""
