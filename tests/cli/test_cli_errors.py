"""The console script's promises: one-line errors with distinct exit statuses, --debug tracebacks, config files."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.cli.conftest import Outcome

Console = Callable[..., "Outcome"]
FAILURE = 1
USAGE = 2
NOT_FOUND = 3


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A filesystem store's root directory holding one file, /hello."""
    directory = tmp_path / "root"
    directory.mkdir()
    (directory / "hello").write_bytes(b"world")
    return directory


def _single_line(outcome: Outcome) -> str:
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("registry-storage: ")
    return lines[0]


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["ls", "--driver", "nosuchdriver"], USAGE, "storage driver 'nosuchdriver'"),
        (["ls", "--driver", "filesystem", "--param", "colour=blue"], USAGE, "parameter 'colour': unknown parameter"),
        (["ls", "--driver", "inmemory", "--params", "[1]"], USAGE, "--params must be a JSON object"),
        (["ls"], USAGE, "choose a driver with --driver, --exec or --config"),
        (["ls", "--driver", "inmemory", "/missing"], NOT_FOUND, "inmemory: path not found: /missing"),
        (["frobnicate"], USAGE, "argument COMMAND: invalid choice: 'frobnicate'"),
        (["get", "--driver", "inmemory", "--json", "/a", "-"], USAGE, "get: --json cannot be combined"),
        (["sync", "--driver", "inmemory", "--jobs", "0", "/", "/x"], USAGE, "sync: argument -j/--jobs"),
        (["ls", "--driver", "inmemory", "--out-of-process", "/missing"], NOT_FOUND, "path not found: /missing"),
    ],
)
def test_errors_are_one_line_with_a_distinct_status(
    console: Console, arguments: list[str], status: int, message: str
) -> None:
    outcome = console(*arguments)
    assert outcome.status == status, outcome.stderr
    assert message in _single_line(outcome)
    assert outcome.stdout == b""


def test_a_failure_that_is_not_a_usage_or_not_found_error_exits_1(console: Console, root: Path) -> None:
    (root / "dir").mkdir()
    (root / "dir" / "f").write_bytes(b"x")
    outcome = console("rm", "--driver", "filesystem", "--param", f"rootdirectory={root}", "/dir")
    assert outcome.status == FAILURE
    assert (
        _single_line(outcome) == "registry-storage: /dir is a directory; use rm -r to delete it and everything below it"
    )


def test_debug_shows_the_traceback(console: Console) -> None:
    outcome = console("--debug", "ls", "--driver", "inmemory", "/missing")
    assert outcome.status == NOT_FOUND
    assert outcome.stderr.startswith("Traceback (most recent call last):")
    assert "PathNotFoundError" in outcome.stderr
    assert outcome.stderr.splitlines()[-1] == "registry-storage: inmemory: path not found: /missing"


def test_a_registry_config_chooses_the_driver(console: Console, root: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  delete:\n    enabled: true\n  filesystem:\n    rootdirectory: {root}\n"
    )
    outcome = console("cat", "--config", str(config), "/hello")
    assert (outcome.status, outcome.stdout) == (0, b"world")


def test_a_config_naming_two_drivers_is_a_usage_error(console: Console, tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("storage:\n  filesystem: {}\n  inmemory: {}\n")
    outcome = console("ls", "--config", str(config))
    assert outcome.status == USAGE
    assert "must name exactly one driver" in _single_line(outcome)


def test_an_executable_chosen_with_exec(console: Console, console_script: str, root: Path) -> None:
    executable = Path(console_script).with_name("registry-storage-filesystem")
    outcome = console("ls", "--exec", str(executable), "--param", f"rootdirectory={root}")
    assert (outcome.status, outcome.text) == (0, "/hello\n"), outcome.stderr


def test_a_closed_pipe_ends_cat_quietly(console_script: str, root: Path) -> None:
    (root / "big").write_bytes(b"z" * (8 << 20))
    command = f"'{console_script}' cat --driver filesystem --param rootdirectory='{root}' /big | head -c 10"
    done = subprocess.run(
        ["/bin/bash", "-c", f"set -o pipefail; {command}"], capture_output=True, timeout=60, check=False
    )
    assert done.stdout == b"z" * 10
    assert done.stderr == b""
    assert done.returncode == 141
