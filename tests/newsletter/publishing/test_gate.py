"""The gate before an issue goes out: the editor's checks with no error, and an approved
issue's snapshot still the one that was approved, computed again from the stored parts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.content import load_content
from newsletter.publishing.gate import (
    ChecksFailed,
    SnapshotChanged,
    ensure_fit_to_send,
    snapshot_hash,
)
from newsletter.publishing.issues import approve_issue, build_issue, get_issue
from newsletter.publishing.lifecycle import IssueStatus
from tests.factories import comparison, write_content
from tests.newsletter.publishing.helpers import ERRORS, broken, stored, tamper


@pytest.fixture
def number(engine: Engine, settings: Settings, tmp_path: Path) -> int:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    with session_scope(engine) as session:
        load_content(session, root)
        return build_issue(session, "2026-W48", settings).issue.number


def _gate(engine: Engine, settings: Settings, number: int) -> None:
    with session_scope(engine) as session:
        ensure_fit_to_send(session, get_issue(session, number), settings)


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_an_error_the_checks_find_is_refused_by_name(
    engine: Engine, settings: Settings, number: int, kind: str
) -> None:
    _gate(engine, settings, number)  # as built, it passes
    tamper(engine, number, **broken(kind, stored(engine, number)))
    with pytest.raises(ChecksFailed) as refused:
        _gate(engine, settings, number)
    message = str(refused.value)
    assert message.startswith(f"issue #{number} cannot go out: the checks found 1 error(s): ")
    assert ERRORS[kind] in message
    assert f"`newsletter issue check {number}`" in message
    assert "\n" not in message


def test_an_approved_snapshot_changed_behind_the_services_back_is_refused(
    engine: Engine, settings: Settings, number: int
) -> None:
    """Only the stored parts count: a stray UPDATE that leaves `content_hash` as it was,
    and keeps every check passing, is still caught."""
    with session_scope(engine) as session:
        approved = approve_issue(session, number, settings)
        assert approved.approved_hash == snapshot_hash(approved) == approved.content_hash
    _gate(engine, settings, number)
    issue = stored(engine, number)
    changed = issue.text.replace("The verdict on one.", "The verdict on one, sponsored.")
    assert changed != issue.text
    tamper(engine, number, text=changed)
    assert stored(engine, number).content_hash == issue.content_hash
    with pytest.raises(SnapshotChanged) as refused:
        _gate(engine, settings, number)
    assert str(refused.value) == (
        f"issue #{number} is not sent: its snapshot is no longer the one that was approved; "
        f"run `newsletter issue unapprove {number}`, check it, and approve it again"
    )
    assert stored(engine, number).status == IssueStatus.APPROVED
