"""The desk's send thread: one send at a time, stopped between batches when the app stops
(the issue paused, resumable), and a later `send_issue` finishing it with nobody twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.publishing.issues import get_issue
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.sending import SendConflict, send_issue
from newsletter.sending.background import BackgroundSends
from tests.newsletter.sending.test_sender import add_subscribers, build


def test_one_send_at_a_time_and_a_stop_pauses_it_for_a_later_resume(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    build(engine, settings, tmp_path / "content")
    people = add_subscribers(engine, 200)
    settings.batch_size = 5
    settings.send_concurrency = 1
    backend = OutboxBackend(settings.outbox_dir)
    sends = BackgroundSends(engine, settings, backend)

    sends.start(1, None)
    with pytest.raises(SendConflict, match="already sending issue #1"):
        sends.start(1, None)
    assert sends.stop(timeout=30)

    run = sends.last(1)
    assert run is not None
    assert not run.running
    assert run.error is None
    assert run.report is not None
    with session_scope(engine) as session:
        stopped = get_issue(session, 1).status
    assert stopped == IssueStatus.PAUSED  # forty batches, one at a time: stopped part-way
    assert run.report.queued > 0
    report = send_issue(engine, 1, settings, backend)  # what the scheduler or the CLI does
    assert report.status == IssueStatus.SENT
    assert report.accepted == len(people.active)
    assert len(list(settings.outbox_dir.rglob("*.eml"))) == len(people.active)  # once each
