"""`newsletter demo` and `newsletter dev sendgrid`: the development tools."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import Settings

runner = CliRunner()


def test_demo_runs_twice_without_duplicating(env: Settings, tmp_path: Path) -> None:
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert "issue #1 for 2026-W48: built" in first.output
    files = sorted(env.outbox_dir.rglob("*.eml"))
    assert len(files) == 5
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0, second.output
    assert "issue #1 for 2026-W48: already built" in second.output
    assert "0 demo subscriber(s) added" in second.output
    assert sorted(env.outbox_dir.rglob("*.eml")) == files
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Subject"].startswith("Verdicts #1: ")


def test_dev_sendgrid_is_registered() -> None:
    shown = runner.invoke(app, ["dev", "sendgrid", "--help"])
    assert shown.exit_code == 0
    assert "--port" in shown.output
    assert "stand-in" in shown.output
