"""`newsletter issue build|render|list` as an editor runs them (the moves and `next` are
exercised with the scheduler, `check` with the checks)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import Settings
from tests.factories import comparison, write_content

runner = CliRunner()


def test_issue_build_list_and_render(env: Settings, tmp_path: Path) -> None:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    assert runner.invoke(app, ["content", "load", str(root)]).exit_code == 0
    built = runner.invoke(app, ["issue", "build", "--week", "2026-W48"])
    assert built.exit_code == 0, built.output
    assert "built issue #1 for 2026-W48 (draft)" in built.output
    again = runner.invoke(app, ["issue", "build", "--week", "2026-W48"])
    assert "exists: issue #1" in again.output
    listed = runner.invoke(app, ["issue", "list"])
    assert listed.exit_code == 0, listed.output
    row = [" ".join(line.replace("│", " ").split()) for line in listed.output.splitlines()]
    assert "1 2026-W48 draft 1 0 0 0" in row
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


def test_issue_list_next_and_moves_from_the_cli(env: Settings, engine: Engine) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["content", "load"]).exit_code == 0
    nxt = runner.invoke(app, ["issue", "next"])
    assert nxt.exit_code == 0, nxt.output
    assert "next run: Monday" in nxt.output
    assert runner.invoke(app, ["issue", "build", "--week", "2026-W48"]).exit_code == 0
    held = runner.invoke(app, ["issue", "hold", "1", "--reason", "vendor reply pending"])
    assert "issue #1 (2026-W48) is held" in held.output
    listed = runner.invoke(app, ["issue", "list"])
    assert listed.exit_code == 0
    assert "held" in listed.output
    assert "vendor reply pending" in listed.output
    refused = runner.invoke(app, ["issue", "cancel", "7"])
    assert refused.exit_code == 1
    assert "there is no issue #7" in refused.output


def test_a_cancelled_week_is_built_again_and_both_are_listed(env: Settings, tmp_path: Path) -> None:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    assert runner.invoke(app, ["content", "load", str(root)]).exit_code == 0
    assert runner.invoke(app, ["issue", "build", "--week", "2026-W48"]).exit_code == 0
    assert runner.invoke(app, ["issue", "cancel", "1"]).exit_code == 0
    unsent = runner.invoke(app, ["issue", "send", "--week", "2026-W48"])
    assert unsent.exit_code == 1
    assert "there is no issue for 2026-W48 (issue #1 was cancelled); build it first" in (
        " ".join(unsent.output.split())
    )
    rebuilt = runner.invoke(app, ["issue", "build", "--week", "2026-W48"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "built issue #2 for 2026-W48 (draft)" in rebuilt.output
    listed = runner.invoke(app, ["issue", "list"])
    rows = [" ".join(line.replace("│", " ").split()) for line in listed.output.splitlines()]
    assert "2 2026-W48 draft 1 0 0 0" in rows
    assert "1 2026-W48 cancelled 0 0 0 0" in rows
