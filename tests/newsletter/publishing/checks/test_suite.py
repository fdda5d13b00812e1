"""Every check run on a real issue, through `newsletter issue check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import Settings, get_settings
from tests.factories import comparison, write_content


def test_issue_check_command(env: Settings) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["issue", "check", "--week", "2026-W48"])
    assert ok.exit_code == 0, ok.output
    assert "all checks pass" in ok.output
    assert "provisional" in ok.output  # checking builds nothing
    assert runner.invoke(app, ["issue", "build", "--week", "2026-W48"]).exit_code == 0
    built = runner.invoke(app, ["issue", "check", "1"])
    assert built.exit_code == 0, built.output
    assert "issue #1 (2026-W48)" in built.output
    nothing = runner.invoke(app, ["issue", "check", "--week", "2026-W01"])
    assert nothing.exit_code == 1
    assert "no issue for 2026-W01" in nothing.output


def test_issue_check_fails_on_errors(
    env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    monkeypatch.setenv("NEWSLETTER_CONTENT_DIR", str(root))
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", "")
    monkeypatch.setenv("NEWSLETTER_SITE_URL", "http://insecure.example.com")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["issue", "check", "--week", "2026-W48"])
    assert result.exit_code == 1
    assert "error: footer: no postal address is set (NEWSLETTER_POSTAL_ADDRESS)" in result.output
    assert "not absolute https" not in result.output  # the site's own http URL is allowed
    (root / "comparisons" / "one.yaml").write_text("slug: one\ntitle: [\n")
    get_settings.cache_clear()
    broken = CliRunner().invoke(app, ["issue", "check", "--week", "2026-W48"])
    assert broken.exit_code == 1
    assert "content/comparisons/one.yaml:3: YAML:" in broken.output
    assert "the issue cannot be rendered" in broken.output
