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


def test_content_load_withdraws_a_deleted_file_and_names_the_frozen_issue(
    env: Settings, tmp_path: Path
) -> None:
    root = write_content(
        tmp_path / "content",
        [comparison("one", "2026-11-25"), comparison("two", "2026-11-24")],
    )
    assert runner.invoke(app, ["content", "load", str(root)]).exit_code == 0
    assert runner.invoke(app, ["issue", "build", "--week", "2026-W48"]).exit_code == 0
    (root / "comparisons" / "two.yaml").unlink()
    draft = runner.invoke(app, ["content", "load", str(root)])
    assert draft.exit_code == 0, draft.output
    lines = [" ".join(line.split()) for line in draft.output.splitlines()]
    assert "withdrawn two: its file is gone; it is never picked again" in lines
    assert "issue #1 (2026-W48): took out withdrawn two; re-rendered" in lines

    (root / "comparisons" / "one.yaml").unlink()
    assert runner.invoke(app, ["issue", "approve", "1"]).exit_code == 0
    frozen = runner.invoke(app, ["content", "load", str(root)])
    assert frozen.exit_code == 0, frozen.output
    assert (
        "warning: issue #1 (2026-W48) is approved and still holds withdrawn one: "
        "`newsletter issue unapprove 1`, then `newsletter content load` takes it out"
    ) in " ".join(frozen.output.split())
