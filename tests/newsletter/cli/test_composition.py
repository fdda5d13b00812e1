"""`newsletter issue add|remove|move` as an editor runs them: the result at once, every
refusal one line and exit 1, nothing changed by a refused command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import Settings, get_settings
from tests.factories import comparison, write_content

runner = CliRunner()


def _lines(output: str) -> list[str]:
    return [" ".join(line.split()) for line in output.splitlines()]


def _draft(tmp_path: Path) -> None:
    """Issue #1 (2026-W48) holds one and two; 'spring', months older, is in no issue."""
    root = write_content(
        tmp_path / "content",
        [
            comparison("one", "2026-11-25"),
            comparison("two", "2026-11-24"),
            comparison("spring", "2026-04-01"),
        ],
    )
    assert runner.invoke(app, ["content", "load", str(root)]).exit_code == 0
    assert runner.invoke(app, ["issue", "build", "--week", "2026-W48"]).exit_code == 0


def test_add_move_and_remove_show_what_the_issue_holds(env: Settings, tmp_path: Path) -> None:
    _draft(tmp_path)
    added = runner.invoke(app, ["issue", "add", "1", "spring", "--position", "1"])
    assert added.exit_code == 0, added.output
    assert _lines(added.output)[:5] == [
        "issue #1 (2026-W48): added spring; re-rendered",
        "1. spring Spring A vs Spring B",
        "2. one One A vs One B",
        "3. two Two A vs Two B",
        "subject: Verdicts #1: Spring A vs Spring B (+2 more)",
    ]
    assert "warning" not in added.output  # three is NEWSLETTER_COMPARISONS_PER_ISSUE's default

    moved = runner.invoke(app, ["issue", "move", "1", "spring", "3"])
    assert moved.exit_code == 0, moved.output
    assert _lines(moved.output)[:4] == [
        "issue #1 (2026-W48): moved spring to 3; re-rendered",
        "1. one One A vs One B",
        "2. two Two A vs Two B",
        "3. spring Spring A vs Spring B",
    ]
    removed = runner.invoke(app, ["issue", "remove", "1", "two"])
    assert removed.exit_code == 0, removed.output
    assert _lines(removed.output) == [
        "issue #1 (2026-W48): removed two; re-rendered",
        "1. one One A vs One B",
        "2. spring Spring A vs Spring B",
        "subject: Verdicts #1: One A vs One B (+1 more)",
    ]
    listed = runner.invoke(app, ["issue", "list"])
    rows = [" ".join(x.replace("│", " ").split()) for x in listed.output.splitlines()]
    assert "1 2026-W48 draft 2 0 0 0" in rows


def test_going_over_the_pick_limit_is_allowed_and_said(
    env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_COMPARISONS_PER_ISSUE", "2")
    get_settings.cache_clear()
    _draft(tmp_path)
    added = runner.invoke(app, ["issue", "add", "1", "spring"])
    assert added.exit_code == 0, added.output
    assert (
        "warning: issue #1 holds 3 comparisons, more than NEWSLETTER_COMPARISONS_PER_ISSUE (2); "
        "`newsletter issue check 1` tells whether it still fits an inbox"
    ) in " ".join(added.output.split())


def test_refusals_are_one_line_and_change_nothing(env: Settings, tmp_path: Path) -> None:
    _draft(tmp_path)
    cases = {
        ("add", "1", "nope"): "there is no comparison 'nope'",
        ("add", "1", "spring", "--position", "5"): "position 5 is outside issue #1: choose one "
        "from 1 to 3",
        ("move", "1", "spring", "1"): "issue #1 does not hold 'spring' (it holds: one, two)",
        ("move", "1", "one", "0"): "position 0 is outside issue #1: choose one from 1 to 2",
        ("remove", "7", "one"): "there is no issue #7",
    }
    for args, message in cases.items():
        result = runner.invoke(app, ["issue", *args])
        assert result.exit_code == 1, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output
    assert runner.invoke(app, ["issue", "remove", "1", "two"]).exit_code == 0
    last = runner.invoke(app, ["issue", "remove", "1", "one"])
    assert last.exit_code == 1
    assert "it is the only comparison in issue #1" in " ".join(last.output.split())

    assert runner.invoke(app, ["issue", "approve", "1"]).exit_code == 0
    frozen = runner.invoke(app, ["issue", "add", "1", "spring"])
    assert frozen.exit_code == 1
    assert (
        "error: issue #1 is approved: its contents are frozen; run `newsletter issue unapprove 1` "
        "first" in " ".join(frozen.output.split())
    )
    listed = runner.invoke(app, ["issue", "list"])
    rows = [" ".join(x.replace("│", " ").split()) for x in listed.output.splitlines()]
    assert "1 2026-W48 approved 1 0 0 0" in rows
