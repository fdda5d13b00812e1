"""`newsletter db upgrade`: applying the migrations is safe to repeat."""

from __future__ import annotations

from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import Settings

runner = CliRunner()


def test_upgrade_twice_changes_nothing_the_second_time(env: Settings) -> None:
    first = runner.invoke(app, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0, again.output
    assert again.output.strip() == "schema is up to date"
