"""The CLI's ``--trace`` summary and ``registry-storage url`` with the middleware of a registry configuration."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from registry_storage.cli import main
from registry_storage.observability.summary import CallSummary


def _driver_args(root: Path) -> list[str]:
    return ["--driver", "filesystem", "--param", f"rootdirectory={root}"]


def test_trace_prints_a_summary_of_every_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local = tmp_path / "local.bin"
    local.write_bytes(b"x" * 3000)
    root = tmp_path / "store"
    assert main(["put", str(local), "/a/b", *_driver_args(root)]) == 0
    assert main(["--trace", "get", "/a/b", str(tmp_path / "back.bin"), "-q", *_driver_args(root)]) == 0
    err = capsys.readouterr().err
    header, *rows = err.strip().splitlines()
    assert header.split() == ["driver", "action", "calls", "errors", "total", "s", "p50", "s", "p99", "s"]
    actions = {row.split()[1]: row.split() for row in rows if not row.startswith("filesystem:")}
    assert "read_stream" in actions
    calls, errors, total, p50, p99 = actions["read_stream"][2:7]
    assert (calls, errors) == ("1", "0")
    assert float(p50) <= float(p99) <= float(total) + 1e-6
    assert re.search(r"^filesystem: 3000 bytes read, 0 bytes written$", err, re.MULTILINE)


def test_without_trace_no_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "/", *_driver_args(tmp_path)]) == 0
    assert "p99" not in capsys.readouterr().err


def test_summary_quantiles_stay_within_a_bucket() -> None:
    summary = CallSummary()
    for index in range(1, 101):
        summary.finished("d", "stat", index / 1000, None)
    stats = summary.snapshot()[("d", "stat")]
    assert stats.calls == 100
    assert stats.seconds == pytest.approx(5.05)
    assert 0.050 <= stats.quantile(0.5) <= 0.050 * 1.26
    assert 0.099 <= stats.quantile(0.99) <= 0.100
    assert len(stats.histogram) == 101


def test_url_applies_the_configs_middleware(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'store'}\n"
        "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: https://cdn.example/r\n",
        encoding="utf-8",
    )
    assert main(["url", "/docker/registry/v2/blobs/x", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "https://cdn.example/r/docker/registry/v2/blobs/x\n"
    assert main(["url", "/a", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"path": "/a", "url": "https://cdn.example/r/a"}


def test_url_of_a_driver_without_urls_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["url", "/a", *_driver_args(tmp_path)]) == 1
    assert "url_for" in capsys.readouterr().err


def test_url_with_a_bad_middleware_entry_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path}\nmiddleware:\n  storage:\n    - name: gzip\n",
        encoding="utf-8",
    )
    assert main(["url", "/a", "--config", str(config)]) == 2
    assert "unknown storage middleware" in capsys.readouterr().err
