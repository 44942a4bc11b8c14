"""The drivers shipped with registry-storage: filesystem, inmemory, s3 and azure."""
