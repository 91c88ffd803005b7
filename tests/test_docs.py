"""The documentation site builds without a warning, and its generated pages are current."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hypercorn.cli import reference_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_committed_cli_reference_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "reference" / "cli.md").read_text()
    assert committed == reference_markdown(), (
        "docs/reference/cli.md is stale: run python -m hypercorn.cli > docs/reference/cli.md"
    )


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "reference" / "config" / "index.html").exists()
