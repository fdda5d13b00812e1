"""`newsletter serve` and `newsletter preview` sit at the root; both run a server in the
foreground, so only their registration and options are checked here (the preview server
itself is tested with the web app)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from newsletter.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("command", "options"),
    [("serve", ["--host", "--port", "--workers"]), ("preview", ["--week", "--port", "--open"])],
)
def test_server_commands_are_registered_at_the_root(command: str, options: list[str]) -> None:
    shown = runner.invoke(app, [command, "--help"])
    assert shown.exit_code == 0, shown.output
    for option in options:
        assert option in shown.output
    assert f"Example: newsletter {command}" in " ".join(shown.output.split())
