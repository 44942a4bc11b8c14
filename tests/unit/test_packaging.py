"""The wheel: everything under the one import package, nothing bare at the top level, no source file left out."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = {
    "registry_storage": "registry_storage",
    "host": "registry_storage/host",
    "client": "registry_storage/client",
    "drivers": "registry_storage/drivers",
}
"""Each source folder and where its files live inside the wheel."""

_SKIPPED_AT_TOP = {".git", ".venv", ".tools", "build", "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
_SKIPPED_ANYWHERE = {"__pycache__", "node_modules"}


def _ignored(directory: str, names: list[str]) -> set[str]:
    at_top = Path(directory) == REPOSITORY
    return {
        name
        for name in names
        if name in _SKIPPED_ANYWHERE or name.endswith(".egg-info") or (at_top and name in _SKIPPED_AT_TOP)
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """A wheel built from a clean copy of the repository, so no earlier build output can leak into it."""
    work = tmp_path_factory.mktemp("wheel")
    source, output = work / "source", work / "dist"
    shutil.copytree(REPOSITORY, source, ignore=_ignored)
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(output), str(source)]
    built = subprocess.run(command, capture_output=True, text=True, check=False)
    assert built.returncode == 0, f"building the wheel failed:\n{built.stdout}\n{built.stderr}"
    wheels = list(output.glob("*.whl"))
    assert len(wheels) == 1, wheels
    archive = zipfile.ZipFile(wheels[0])
    yield archive
    archive.close()


def _dist_info(wheel: zipfile.ZipFile) -> str:
    folders = {name.split("/")[0] for name in wheel.namelist() if name.split("/")[0].endswith(".dist-info")}
    assert len(folders) == 1, folders
    return folders.pop()


def test_every_file_lives_under_the_package_or_the_dist_info(wheel: zipfile.ZipFile) -> None:
    dist_info = _dist_info(wheel)
    strays = [name for name in wheel.namelist() if name.split("/")[0] not in {"registry_storage", dist_info}]
    assert not strays, f"files outside registry_storage/ and {dist_info}/: {strays}"


@pytest.mark.parametrize("folder", ["host", "client", "drivers"])
def test_no_bare_top_level_module(wheel: zipfile.ZipFile, folder: str) -> None:
    names = wheel.namelist()
    assert not [name for name in names if name.startswith(f"{folder}/") or name == f"{folder}.py"]
    assert f"registry_storage/{folder}/__init__.py" in names


def test_the_package_is_marked_typed(wheel: zipfile.ZipFile) -> None:
    assert "registry_storage/py.typed" in wheel.namelist()


def test_every_source_file_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    expected = {
        f"{target}/{path.relative_to(REPOSITORY / folder).as_posix()}"
        for folder, target in SOURCE_FOLDERS.items()
        for path in (REPOSITORY / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert len(expected) > 10
    missing = sorted(expected - names)
    assert not missing, f"source files left out of the wheel (a package missing from pyproject.toml?): {missing}"


def test_every_entry_point_names_a_module_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    entry_points = configparser.ConfigParser(delimiters=("=",))
    entry_points.optionxform = str  # type: ignore[assignment,method-assign]
    entry_points.read_string(wheel.read(f"{_dist_info(wheel)}/entry_points.txt").decode())
    names = set(wheel.namelist())
    missing = []
    for group in entry_points.sections():
        for entry, value in entry_points[group].items():
            module = value.split(":")[0].strip().replace(".", "/")
            if f"{module}.py" not in names and f"{module}/__init__.py" not in names:
                missing.append(f"[{group}] {entry} = {value}")
    assert "registry_storage.drivers" in entry_points.sections()
    assert not missing, f"entry points naming modules the wheel lacks: {missing}"
