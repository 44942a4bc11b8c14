"""The README's parameter tables list exactly the parameters each driver declares, and mark the ignored ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry_storage.drivers.azure import PARAMETERS as AZURE_PARAMETERS
from registry_storage.drivers.filesystem import FilesystemDriver
from registry_storage.drivers.gcs.parameters import PARAMETERS as GCS_PARAMETERS
from registry_storage.drivers.s3 import PARAMETERS as S3_PARAMETERS
from registry_storage.parameters import Parameter, accepted_names

README = Path(__file__).resolve().parents[2] / "README.md"
DECLARED = {
    "filesystem": FilesystemDriver.PARAMETERS,
    "s3": S3_PARAMETERS,
    "azure": AZURE_PARAMETERS,
    "gcs": GCS_PARAMETERS,
}


def _table(driver: str) -> dict[str, str]:
    """``{parameter: "here" column}`` of the README table of ``driver``."""
    text = README.read_text()
    match = re.search(rf"^### `{driver}` parameters.*?\n\n(\|.*?)\n\n", text, re.S | re.M)
    assert match, f"README has no parameter table for {driver}"
    rows: dict[str, str] = {}
    for line in match.group(1).splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        for name in re.findall(r"`([a-z_0-9]+)`", cells[0]):
            rows[name] = cells[-1]
    return rows


@pytest.mark.parametrize("driver", sorted(DECLARED))
def test_the_table_lists_every_accepted_name_and_marks_the_ignored(driver: str) -> None:
    declared: list[Parameter] = DECLARED[driver]
    rows = _table(driver)
    assert sorted(rows) == sorted(accepted_names(declared))
    for parameter in declared:
        assert rows[parameter.name].startswith("ignored") == parameter.ignored, parameter.name
