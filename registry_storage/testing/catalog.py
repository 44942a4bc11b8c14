"""CHECKS: every conformance check, grouped by theme, in the order they run."""

from __future__ import annotations

from registry_storage.testing import (
    checks_changes,
    checks_concurrency,
    checks_content,
    checks_errors,
    checks_paths,
    checks_streams,
    checks_tree,
)
from registry_storage.testing.registry import Check, collect

CHECKS: list[Check] = collect(
    checks_content.group,
    checks_streams.group,
    checks_tree.group,
    checks_changes.group,
    checks_paths.group,
    checks_errors.group,
    checks_concurrency.group,
)
"""Every check; names are unique."""
