"""`newsletter issue build|render|list` as an editor runs them (the moves and `next` are
exercised with the scheduler, `check` with the checks)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import Engine
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import Settings, get_settings
from newsletter.publishing.lifecycle import IssueStatus
from tests.factories import comparison, write_content
from tests.newsletter.publishing.helpers import stored, tamper

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


"""`newsletter issue build|render|list|approve|unapprove|check` as an editor runs them (the
other moves and `next` are exercised with the scheduler, the checks themselves with
`checks`)."""


def test_build_refresh_renders_the_files_as_they_are_now(
    env: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    monkeypatch.setenv("NEWSLETTER_CONTENT_DIR", str(root))
    get_settings.cache_clear()
    assert runner.invoke(app, ["issue", "build", "--refresh", "--week", "2026-W48"]).exit_code == 0
    path = root / "comparisons" / "one.yaml"
    original = path.read_text()
    path.write_text(original.replace("The verdict on one.", "A verdict edited after the build."))

    refreshed = runner.invoke(app, ["issue", "build", "--refresh", "--week", "2026-W48"])

    assert refreshed.exit_code == 0, refreshed.output
    assert "1 updated" in refreshed.output
    assert "re-rendered issue #1 for 2026-W48 (draft)" in refreshed.output
    assert "A verdict edited after the build." in stored(engine, 1).text

    before = stored(engine, 1)
    path.write_text(original.replace("published: '2026-11-24'", "published: '2026-11-31'"))
    broken = runner.invoke(app, ["issue", "build", "--refresh", "--week", "2026-W48"])

    assert broken.exit_code == 1
    assert "content/comparisons/one.yaml:4: published: '2026-11-31' is not a date" in (
        broken.output
    )
    assert "error: 1 problem(s) in content; nothing was loaded" in broken.output
    after = stored(engine, 1)
    assert (after.html, after.text, after.rendered_at) == (
        before.html,
        before.text,
        before.rendered_at,
    )
    help_text = runner.invoke(app, ["issue", "build", "--help"]).output
    assert "Load content/ first" in " ".join(help_text.replace("│", " ").split())


def test_approve_freezes_the_issue_and_unapprove_reopens_it(
    env: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    monkeypatch.setenv("NEWSLETTER_CONTENT_DIR", str(root))
    get_settings.cache_clear()
    assert runner.invoke(app, ["issue", "build", "--refresh", "--week", "2026-W48"]).exit_code == 0

    approved = runner.invoke(app, ["issue", "approve", "1"])

    assert approved.exit_code == 0, approved.output
    assert "issue #1 (2026-W48) is approved" in approved.output
    assert stored(engine, 1).approved_hash == stored(engine, 1).content_hash
    frozen = runner.invoke(app, ["issue", "build", "--refresh", "--week", "2026-W48"])
    assert frozen.exit_code == 1
    assert frozen.output.count("\n") == 1, frozen.output  # one line
    assert "error: issue #1 is approved, so its snapshot is frozen" in frozen.output
    assert "`newsletter issue unapprove 1`" in frozen.output

    reopened = runner.invoke(app, ["issue", "unapprove", "1"])

    assert reopened.exit_code == 0, reopened.output
    assert "issue #1 (2026-W48) is draft" in reopened.output
    assert stored(engine, 1).approved_hash is None
    assert runner.invoke(app, ["issue", "build", "--refresh", "--week", "2026-W48"]).exit_code == 0
    tamper(engine, 1, subject="Issue #1\nBcc: everyone@example.com")
    refused = runner.invoke(app, ["issue", "approve", "1"])
    assert refused.exit_code == 1
    assert "error: issue #1 cannot go out: the checks found 1 error(s): subject: the subject " in (
        " ".join(refused.output.split())
    )
    assert stored(engine, 1).status == IssueStatus.DRAFT


def test_check_without_a_number_checks_the_issue_just_built(
    env: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor working ahead builds next week's issue, then checks: that is the issue
    checked, not this week's. A cancelled or sent issue is not one anyone works on; with
    no issue at all, the week the scheduler sends next is checked provisionally."""
    root = write_content(
        tmp_path / "content",
        [
            comparison("this-week", "2026-11-24"),
            comparison("next-week", "2026-12-01"),
            comparison("week-after", "2026-12-08"),
        ],
    )
    monkeypatch.setenv("NEWSLETTER_CONTENT_DIR", str(root))
    get_settings.cache_clear()

    def checked() -> str:
        result = runner.invoke(app, ["issue", "check"])
        assert result.exit_code == 0, result.output
        return result.output

    with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC), tick=False):
        assert "(2026-W48, provisional): all checks pass" in checked()
        for week in ("2026-W48", "2026-W49", "2026-W50"):
            assert (
                runner.invoke(app, ["issue", "build", "--refresh", "--week", week]).exit_code == 0
            )
        tamper(engine, 3, status=IssueStatus.SENT.value)  # gone out, early

        assert "issue #2 (2026-W49): all checks pass" in checked()
        assert runner.invoke(app, ["issue", "cancel", "2"]).exit_code == 0
        assert "issue #1 (2026-W48): all checks pass" in checked()


def test_check_of_a_frozen_issue_reads_no_file(
    env: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An approved issue is checked as it was approved: a half-written file for a later
    week does not fail its check (approve and send would pass it too). A draft is loaded
    from the files first, so the same file fails the draft's check."""
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    monkeypatch.setenv("NEWSLETTER_CONTENT_DIR", str(root))
    get_settings.cache_clear()
    assert runner.invoke(app, ["issue", "build", "--refresh", "--week", "2026-W48"]).exit_code == 0
    assert runner.invoke(app, ["issue", "approve", "1"]).exit_code == 0
    (root / "comparisons" / "next-one.yaml").write_text("slug: next-one\ntitle: [unfinished\n")

    frozen = runner.invoke(app, ["issue", "check", "1"])

    assert frozen.exit_code == 0, frozen.output
    assert "issue #1 (2026-W48): all checks pass" in frozen.output
    assert runner.invoke(app, ["issue", "unapprove", "1"]).exit_code == 0
    draft = runner.invoke(app, ["issue", "check", "1"])
    assert draft.exit_code == 1
    assert "content/comparisons/next-one.yaml:2: YAML: unclosed '['" in draft.output


def test_next_says_a_cancelled_week_is_left_alone(
    env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler never builds a cancelled week again; `issue next` says so, instead of
    listing what the run would pick."""
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-23")])
    monkeypatch.setenv("NEWSLETTER_CONTENT_DIR", str(root))
    get_settings.cache_clear()
    with time_machine.travel(datetime(2026, 11, 22, 12, tzinfo=UTC), tick=False):
        assert runner.invoke(app, ["content", "load"]).exit_code == 0
        assert runner.invoke(app, ["issue", "build", "--week", "2026-W48"]).exit_code == 0
        assert runner.invoke(app, ["issue", "cancel", "1"]).exit_code == 0

        nxt = runner.invoke(app, ["issue", "next"])

    assert nxt.exit_code == 0, nxt.output
    assert (
        "2026-W48 was cancelled (issue #1): that run builds nothing; `newsletter issue build "
        "--week 2026-W48` builds it again" in " ".join(nxt.output.split())
    )
    assert "would pick" not in nxt.output
