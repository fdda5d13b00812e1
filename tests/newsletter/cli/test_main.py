"""The `newsletter` command as an operator or editor runs it."""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import PROJECT_ROOT, Settings
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


def test_issue_build_and_render(env: Settings, tmp_path: Path) -> None:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    assert runner.invoke(app, ["content", "load", str(root)]).exit_code == 0
    built = runner.invoke(app, ["issue", "build", "--week", "2026-W48"])
    assert built.exit_code == 0, built.output
    assert "built issue #1 for 2026-W48 (draft)" in built.output
    again = runner.invoke(app, ["issue", "build", "--week", "2026-W48"])
    assert "exists: issue #1" in again.output
    out = tmp_path / "rendered"
    rendered = runner.invoke(app, ["issue", "render", "1", "--out", str(out)])
    assert rendered.exit_code == 0, rendered.output
    assert sorted(p.name for p in out.iterdir()) == ["issue-1.html", "issue-1.mjml", "issue-1.txt"]
    assert "<mjml" in (out / "issue-1.mjml").read_text()
    missing = runner.invoke(app, ["issue", "render", "9"])
    assert missing.exit_code == 1
    assert "there is no issue #9" in missing.output
    bad_week = runner.invoke(app, ["issue", "build", "--week", "48"])
    assert bad_week.exit_code == 1
    assert "'48' is not an ISO week" in bad_week.output


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


def test_console_script_prints_one_line_errors(tmp_path: Path) -> None:
    """The installed entry point, in a real process: a broken database URL is one line."""
    exe = shutil.which("newsletter", path=str(Path(sys.executable).parent))
    assert exe, "the console script is installed with the package"
    result = subprocess.run(
        [exe, "issue", "build"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "NEWSLETTER_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        },
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: database:")
