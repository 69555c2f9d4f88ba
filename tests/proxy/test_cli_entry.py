"""``dex-py proxy`` is listed by ``dex-py --help`` and runs the same command through the click
group as through the console script's early dispatch."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dex_py.cli import main


def test_help_lists_the_proxy() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "proxy" in result.output and "PROXY_CONFIG" in result.output


def test_the_click_entry_runs_the_proxy_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["proxy", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "cannot read" in result.output
