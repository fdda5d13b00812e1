"""`newsletter content check|load` as an editor runs them: every problem named by file and
line, and a bad file loads nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import Settings
from tests.factories import COMPARISON_FILE, comparison, write_content
from tests.newsletter.publishing.content.test_check import write_broken_folder

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
    assert "content/comparisons/two.yaml:2: YAML: unclosed '['" in bad.output
    assert "content/comparisons/three.yaml:1: question: is required" in bad.output
    assert "Traceback" not in bad.output


def test_content_load_refuses_bad_files_and_writes_nothing(env: Settings, tmp_path: Path) -> None:
    root = write_content(tmp_path / "content", [comparison("one"), comparison("two", "2026-02-30")])
    result = runner.invoke(app, ["content", "load", str(root)])
    assert result.exit_code == 1
    assert (
        "content/comparisons/two.yaml:4: published: '2026-02-30' is not a date (write YYYY-MM-DD)"
        in result.output
    )
    assert "nothing was loaded" in result.output
    build = runner.invoke(app, ["issue", "build", "--week", "2026-W48"])
    assert build.exit_code == 1
    assert "no issue for 2026-W48" in build.output


def test_content_load_withdraws_a_deleted_file_and_names_the_frozen_issue(
    env: Settings, tmp_path: Path
) -> None:
    root = write_content(
        tmp_path / "content",
        [
            comparison("one", "2026-11-25"),
            comparison("two", "2026-11-24"),
            comparison("later", "2026-12-21"),  # for another week; its file stays
        ],
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


def test_one_content_check_reports_field_reference_and_cross_file_problems(
    env: Settings, tmp_path: Path
) -> None:
    """Several broken files, one run: every problem of every file, each on one line with
    file, line and field, then the count."""
    root = write_content(tmp_path / "content", [])
    expected = write_broken_folder(root)
    result = runner.invoke(app, ["content", "check", str(root)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        *expected,
        f"error: {len(expected)} problem(s) in {root}",
    ]


def _bomb(levels: int) -> str:
    """A file of nested aliases: each level repeats the one before nine times."""
    lines = ["slug: laughs", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "command",
    [["content", "check"], ["content", "load"], ["scheduler", "--once"]],
    ids=["content-check", "content-load", "weekly-job"],
)
def test_a_yaml_bomb_is_refused_at_once_by_every_reader(
    settings: Settings, tmp_path: Path, command: list[str]
) -> None:
    """750 bytes standing for 2.7 billion strings: the check, the load (which the preview
    also runs) and the weekly job each refuse it within seconds, in a real process."""
    root = write_content(tmp_path / "content", [comparison("one")])
    (root / "comparisons" / "laughs.yaml").write_text(_bomb(11))
    output = _run_in_a_process(settings, root, command)
    assert (
        "content/comparisons/laughs.yaml:3: YAML: alias '*a0' is not allowed in content files"
        in output
    ), output
    assert "Traceback" not in output


def _run_in_a_process(settings: Settings, root: Path, command: list[str]) -> str:
    """`newsletter COMMAND` on the content folder `root` in a real process, which must end
    within a minute; its stdout and stderr together."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    environ.update(
        NEWSLETTER_DATABASE_URL=settings.database_url,
        NEWSLETTER_SECRET_KEY=settings.secret_key,
        NEWSLETTER_CONTENT_DIR=str(root),
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", "from newsletter.cli.main import main; main()", *command],
        env=environ,
        cwd=root.parent,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert time.monotonic() - started < 60
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [["content", "check"], ["scheduler", "--once"]],
    ids=["content-check", "weekly-job"],
)
def test_a_fifo_in_the_folder_is_reported_by_every_reader_without_hanging(
    settings: Settings, tmp_path: Path, command: list[str]
) -> None:
    """`mkfifo content/comparisons/x.yaml` blocked every reader in open(), for good."""
    root = write_content(tmp_path / "content", [comparison("one")])
    os.mkfifo(root / "comparisons" / "x.yaml")
    output = _run_in_a_process(settings, root, command)
    assert "content/comparisons/x.yaml:1: is a FIFO, not a file; not read" in output, output
    assert "Traceback" not in output


def test_line_numbers_and_quoted_text_are_not_turned_into_emoji(
    env: Settings, tmp_path: Path
) -> None:
    """Rich reads `:100:` and `:1234:` as emoji codes, and would read `:fire:` too."""
    root = write_content(tmp_path / "content", [])
    text = COMPARISON_FILE.replace("  - reviewer: risk", "  - reviewer: ':fire:'")
    text += "# notes\n" * (99 - text.count("\n")) + "extra: 1\n"
    text += "# notes\n" * (1233 - 100) + "again: 2\n"
    (root / "comparisons" / "alpha-vs-beta.yaml").write_text(text)
    assert text.splitlines()[99] == "extra: 1"
    assert text.splitlines()[1233] == "again: 2"
    result = runner.invoke(app, ["content", "check", str(root)])
    known = "a comparison has: slug, title, question, published, verdict, tools, reviews"
    shown = "content/comparisons/alpha-vs-beta.yaml"
    assert result.output.splitlines()[:3] == [
        f"{shown}:28: reviews[1].reviewer: must be lowercase letters, digits and single hyphens "
        "(a slug)",
        f"{shown}:100: extra: unknown field (a typo?); {known}",
        f"{shown}:1234: again: unknown field (a typo?); {known}",
    ]


def test_output_lines_are_never_wrapped(env: Settings, tmp_path: Path) -> None:
    """Without a terminal (cron, a pipe) Rich wraps at 80 columns; a problem or a report
    line must stay one line, however long, for a log to be read or grepped."""
    root = write_content(tmp_path / ("a-content-folder-with-a-long-name-" * 3) / "content", [])
    long_key = "a_field_name_nobody_would_write_" * 4
    (root / "comparisons" / "alpha-vs-beta.yaml").write_text(
        COMPARISON_FILE.replace("title: Alpha vs Beta", f"title: Alpha vs Beta\n{long_key}: x")
    )
    bad = runner.invoke(app, ["content", "check", str(root)])
    assert bad.output.splitlines() == [
        f"content/comparisons/alpha-vs-beta.yaml:3: {long_key}: unknown field (a typo?); "
        "a comparison has: slug, title, question, published, verdict, tools, reviews",
        f"error: 1 problem(s) in {root}",
    ]
    (root / "comparisons" / "alpha-vs-beta.yaml").write_text(COMPARISON_FILE)
    good = runner.invoke(app, ["content", "check", str(root)])
    assert good.output.splitlines() == [f"{root}: 4 reviewers and 1 comparisons, no problems"]
    loaded = runner.invoke(app, ["content", "load", str(root)])
    assert loaded.output.splitlines() == [
        f"loaded {root}: 1 new, 0 updated, 0 unchanged comparisons; 4 reviewer change(s)"
    ]
