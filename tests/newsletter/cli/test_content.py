"""`newsletter content check|load` as an editor runs them: every problem named by file and
line, and a bad file loads nothing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import Settings
from tests.factories import comparison, write_content

runner = CliRunner()


def test_content_check_reports_every_problem_and_exits_1(env: Settings, tmp_path: Path) -> None:
    root = write_content(tmp_path / "content", [comparison("one")])
    ok = runner.invoke(app, ["content", "check", str(root)])
    assert ok.exit_code == 0, ok.output
    assert "1 comparisons, no problems" in ok.output
    (root / "comparisons" / "two.yaml").write_text("slug: two\ntitle: [broken\n")
    (root / "comparisons" / "three.yaml").write_text("slug: three\ntitle: Three\n")
    bad = runner.invoke(app, ["content", "check", str(root)])
    assert bad.exit_code == 1
    assert "content/comparisons/two.yaml:3: YAML:" in bad.output
    assert "content/comparisons/three.yaml:1: question: required field is missing" in bad.output
    assert "Traceback" not in bad.output


def test_content_load_refuses_bad_files_and_writes_nothing(env: Settings, tmp_path: Path) -> None:
    root = write_content(tmp_path / "content", [comparison("one"), comparison("two", "2026-02-30")])
    result = runner.invoke(app, ["content", "load", str(root)])
    assert result.exit_code == 1
    assert "content/comparisons/two.yaml:4: published: '2026-02-30' is not a date" in result.output
    assert "nothing was loaded" in result.output
    build = runner.invoke(app, ["issue", "build", "--week", "2026-W48"])
    assert build.exit_code == 1
    assert "no issue for 2026-W48" in build.output
