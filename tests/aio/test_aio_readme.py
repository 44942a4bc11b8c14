"""The README's asyncio example runs as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_asyncio_example_runs(tmp_path: Path) -> None:
    section = README.read_text(encoding="utf-8").split("### asyncio", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the asyncio section has no python example"
    example = match.group(1)
    assert len([line for line in example.splitlines() if line.strip()]) <= 10
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    finished = subprocess.run([sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == ["b'bytes'", "['/blobs', '/blobs/upload-1', '/tags', '/tags/latest']"]
