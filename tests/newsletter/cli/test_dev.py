"""`newsletter demo` and `newsletter dev sendgrid`: the development tools."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.database import get_engine, session_scope
from newsletter.core.settings import Settings, get_settings
from newsletter.core.sql import row_id
from newsletter.publishing.models import Issue
from newsletter.sending.ledger import SendRecipient
from subscribers.models import Source, Subscriber
from subscribers.service import add_subscriber

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


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("NEWSLETTER_ENVIRONMENT", "production", "NEWSLETTER_ENVIRONMENT=production"),
        ("NEWSLETTER_BACKEND", "sendgrid", "NEWSLETTER_BACKEND=outbox"),
    ],
)
def test_demo_refuses_production_and_a_real_provider(
    env: Settings, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()

    result = runner.invoke(app, ["demo"])

    assert result.exit_code != 0
    assert says in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not env.outbox_dir.exists()
    with session_scope(get_engine()) as session:
        assert session.exec(select(func.count()).select_from(Subscriber)).one() == 0


def test_demo_never_touches_a_list_it_did_not_make(env: Settings) -> None:
    with session_scope(get_engine(), immediate=True) as session:
        add_subscriber(session, "reader@example.com", source=Source.IMPORT, confirmed=True)

    result = runner.invoke(app, ["demo"])

    assert result.exit_code != 0
    assert "holds 1 subscriber(s) it did not add" in result.output
    with session_scope(get_engine()) as session:
        assert session.exec(select(func.count()).select_from(Subscriber)).one() == 1
        assert session.exec(select(func.count()).select_from(Issue)).one() == 0


def test_demo_refuses_a_database_whose_issues_went_to_other_people(env: Settings) -> None:
    """The list may be gone (forgotten, exported elsewhere), but the ledger remembers that
    an issue was sent to people the demo did not add."""
    assert runner.invoke(app, ["demo"]).exit_code == 0
    with session_scope(get_engine(), immediate=True) as session:
        issue_id = row_id(session.exec(select(Issue)).one().id)
        session.add(SendRecipient(issue_id=issue_id, subscriber_id=999_999, batch_seq=0))

    result = runner.invoke(app, ["demo"])

    assert result.exit_code != 0
    assert "1 issue(s) sent to people other than its demo subscribers" in result.output
