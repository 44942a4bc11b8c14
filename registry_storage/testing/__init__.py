"""The conformance suite every driver must pass."""
