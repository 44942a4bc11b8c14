"""The wire codec: frames and messages of the registry-storage protocol, sans I/O."""
