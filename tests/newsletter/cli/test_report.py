"""`newsletter issue report N` as an operator and a script run it: the tables (counts with
thousands separators, rates with one decimal, hard and soft bounces and machine opens on
rows of their own, the links clicked), `--json`, an issue not sent yet, and one line with
exit status 1 for a number that names no issue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from newsletter.analytics import issue_report
from newsletter.cli.main import app
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from newsletter.sending.ledger import snapshot_audience
from tests.newsletter.analytics.helpers import sent_with_trouble, track
from tests.newsletter.sending.test_sender import KEY, add_subscribers, build

runner = CliRunner()


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=[KEY]) as running:
        yield running


def run_report(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in a real process with a terminal 160 columns wide, so no cell wraps."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    environ.update(
        NEWSLETTER_ENV_FILE=os.environ["NEWSLETTER_ENV_FILE"],
        NEWSLETTER_DATABASE_URL=settings.database_url,
        NEWSLETTER_SECRET_KEY=settings.secret_key,
        COLUMNS="160",
    )
    return subprocess.run(
        [sys.executable, "-c", "from newsletter.cli.main import main; main()", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=90,
    )


def row(output: str, label: str) -> list[str]:
    """The cells of the table row whose first cell is `label`."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 2 and cells[1] == label:
            return cells[1:-1]
    raise AssertionError(f"no row {label!r} in:\n{output}")


def test_the_report_as_tables(
    engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    sent = sent_with_trouble(engine, settings, standin, tmp_path / "content")
    assert sent.issue.id is not None
    track(engine, sent.issue.id)

    result = run_report(settings, "issue", "report", "1")

    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert out.splitlines()[0] == f"issue #1 (2026-W48, sent): {sent.issue.subject}"
    assert row(out, "audience") == ["audience", "50", "", ""]
    assert row(out, "accepted")[:2] == ["accepted", "30"]
    assert row(out, "failed")[:2] == ["failed", "10"]
    assert row(out, "unknown")[:2] == ["unknown", "10"]
    assert row(out, "delivered") == ["delivered", "24", "80.0%", "accepted"]
    assert row(out, "bounced, hard") == ["bounced, hard", "2", "6.7%", "accepted"]
    assert row(out, "bounced, soft") == ["bounced, soft", "1", "3.3%", "accepted"]
    assert row(out, "complained (spam)") == ["complained (spam)", "1", "4.2%", "delivered"]
    assert row(out, "unsubscribed") == ["unsubscribed", "3", "12.5%", "delivered"]
    assert row(out, "unique opens") == ["unique opens", "12", "50.0%", "delivered"]
    assert row(out, "machine opens") == ["machine opens", "5", "20.8%", "delivered"]
    assert row(out, "unique clicks") == ["unique clicks", "6", "25.0%", "delivered"]
    links = [
        row(out, url)
        for url in (
            "https://alpha.example.com/pricing?plan=team&utm_source=verdicts",
            "https://beta.example.com/",
            "https://vendor.example.org/",
        )
    ]
    assert [cells[1:] for cells in links] == [["4", "66.7%"], ["3", "50.0%"], ["1", "16.7%"]]
    assert out.index("alpha.example.com") < out.index("beta.example.com")
    assert "1,234 provider events stored" in out


def test_counts_have_thousands_separators(engine: Engine, env: Settings, tmp_path: Path) -> None:
    issue = build(engine, env, tmp_path / "content")
    add_subscribers(engine, 1200)
    assert issue.id is not None
    with session_scope(engine) as session:  # the send has just started: all still queued
        snapshot_audience(session, issue.id, 500)

    result = runner.invoke(app, ["issue", "report", "1"])

    assert result.exit_code == 0, result.output
    assert "│ audience" in result.output
    assert "1,200" in result.output
    assert "no link clicked yet" in result.output


def test_json_for_scripts(engine: Engine, env: Settings, standin: StandIn, tmp_path: Path) -> None:
    sent = sent_with_trouble(engine, env, standin, tmp_path / "content")
    assert sent.issue.id is not None
    track(engine, sent.issue.id)

    result = runner.invoke(app, ["issue", "report", "1", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["number"], data["sent"], data["audience"]) == (1, True, 50)
    assert (data["accepted"], data["failed"], data["unknown"]) == (30, 10, 10)
    assert (data["bounced"], data["bounced_hard"], data["bounced_soft"]) == (3, 2, 1)
    assert (data["unique_opens"], data["machine_opens"]) == (12, 5)
    assert data["rates"]["delivered"] == pytest.approx(0.8)
    assert data["rates"]["bounced_hard"] == pytest.approx(2 / 30)  # of accepted
    assert [(link["url"], link["clicks"]) for link in data["links"]] == [
        ("https://alpha.example.com/pricing?plan=team&utm_source=verdicts", 4),
        ("https://beta.example.com/", 3),
        ("https://vendor.example.org/", 1),
    ]
    with session_scope(engine) as session:
        assert data == json.loads(json.dumps(issue_report(session, 1).as_dict()))


def test_an_issue_not_sent_yet(engine: Engine, env: Settings, tmp_path: Path) -> None:
    build(engine, env, tmp_path / "content")

    shown = runner.invoke(app, ["issue", "report", "1"])
    as_json = runner.invoke(app, ["issue", "report", "1", "--json"])

    assert shown.exit_code == 0, shown.output
    assert shown.output == "issue #1 (2026-W48, draft): not sent yet; audience 0\n"
    data = json.loads(as_json.stdout)
    assert (data["sent"], data["audience"], data["delivered"], data["links"]) == (
        False,
        0,
        0,
        [],
    )
    assert data["rates"]["delivered"] is None


@pytest.mark.parametrize("number", ["9", "0", str(2**64)])
@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_a_number_that_names_no_issue_is_one_line_and_exit_1(
    engine: Engine, env: Settings, tmp_path: Path, number: str, as_json: list[str]
) -> None:
    build(engine, env, tmp_path / "content")

    result = runner.invoke(app, ["issue", "report", number, *as_json])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: there is no issue #{number}\n"
