"""The client proxy: a StorageDriver that runs a driver executable as a child and talks the protocol to it."""
