"""``registry-storage drivers``: in-process drivers, and driver executables with the protocol version they answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.cli.conftest import Outcome

Console = Callable[..., "Outcome"]


@pytest.fixture
def drivers_path(tmp_path: Path) -> Path:
    """A directory for $REGISTRY_STORAGE_DRIVERS_PATH with a silent, a failing and a non-executable driver."""
    directory = tmp_path / "drivers"
    directory.mkdir()
    silent = directory / "registry-storage-silent"
    silent.write_text("#!/bin/sh\ncat >/dev/null\n")  # keeps stdout open, never answers, ends with its input
    failing = directory / "registry-storage-failing"
    failing.write_text("#!/bin/sh\necho 'registry-storage-failing: parameter token: required' >&2\nexit 2\n")
    for script in (silent, failing):
        script.chmod(0o755)
    (directory / "registry-storage-notexecutable").write_text("#!/bin/sh\n")
    return directory


def _listing(console: Console, drivers_path: Path, *arguments: str) -> Outcome:
    return console("drivers", "--timeout", "2", *arguments, env={"REGISTRY_STORAGE_DRIVERS_PATH": str(drivers_path)})


def test_drivers_json_lists_both_kinds(console: Console, drivers_path: Path) -> None:
    outcome = _listing(console, drivers_path, "--json")
    assert outcome.status == 0, outcome.stderr
    document = outcome.json()
    in_process = {driver["name"]: driver for driver in document["in_process"]}
    assert {"filesystem", "inmemory", "s3", "azure", "gcs"} <= set(in_process)
    assert in_process["filesystem"]["error"] is None
    executables: dict[str, dict[str, Any]] = {driver["name"]: driver for driver in document["executables"]}
    assert "notexecutable" not in executables
    for name in ("filesystem", "inmemory"):
        assert executables[name]["protocol"] == "1.2"
        assert executables[name]["error"] is None
        assert Path(executables[name]["path"]).name == f"registry-storage-{name}"
    assert executables["s3"]["protocol"] is None
    assert "bucket" in executables["s3"]["error"]
    assert executables["gcs"]["protocol"] is None
    assert "bucket" in executables["gcs"]["error"]
    assert executables["failing"]["error"] == (
        "driver process exited with status 2: registry-storage-failing: parameter token: required"
    )
    assert executables["failing"]["path"] == str(drivers_path / "registry-storage-failing")
    assert "no answer within 2 s" in executables["silent"]["error"]
    assert outcome.stderr == ""


def test_drivers_prints_a_table(console: Console, drivers_path: Path) -> None:
    outcome = _listing(console, drivers_path)
    assert outcome.status == 0, outcome.stderr
    lines = outcome.text.splitlines()
    assert lines[0] == "in-process drivers:"
    assert lines[1].split() == ["NAME", "SOURCE"]
    rows = {
        line.split()[0]: line.split()
        for line in lines[lines.index("driver executables (started with {} parameters):") + 1 :]
    }
    assert rows["filesystem"][1] == "1.2"
    assert rows["failing"][1] == "-"
    assert rows["silent"][1] == "-"
