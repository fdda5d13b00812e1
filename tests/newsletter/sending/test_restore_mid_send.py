"""A backup taken mid-send, restored into a fresh database, finishes the send with nobody
getting the issue twice (docs/deploy.md, "Backup and restore").

The sender (`newsletter issue send` in its own process) sends through the SendGrid
stand-in until every one of its workers is held inside a slow request, so the ledger has
exactly that many batches `in_flight`; it is then killed (the machine is lost) and the
database dumped with `pg_dump -Fc`: the ledger as it stood, since a held sender writes
nothing but lease extensions. `pg_restore` puts the dump into a new database, and a send
there (`send_issue`, what `newsletter issue send` runs) finishes it: the in-flight batches
become `unknown` (their requests did reach the provider) and are not sent again; the rest
go out once.
PostgreSQL only, with pg_dump and pg_restore installed.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url

from newsletter.core.database import make_engine, session_scope
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending import BatchState, issue_status, send_issue
from tests.newsletter.sending.test_sender import KEY, add_subscribers, build, sendgrid
from tests.newsletter.sending.test_sender_kill import CONCURRENCY, SENDER, _environment

THROUGH = 4
"""Requests answered before the stand-in holds every request."""
HELD = 3.0
"""Seconds the stand-in holds each later request: long enough for the kill to land while
every worker waits on one (none has recorded an answer and claimed another batch)."""
WAIT = 30.0

pytestmark = [
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
    pytest.mark.skipif(
        not (shutil.which("pg_dump") and shutil.which("pg_restore")),
        reason="pg_dump and pg_restore are not installed (apt-get install postgresql-client)",
    ),
]


def _libpq(url: URL) -> str:
    """The URL as pg_dump and pg_restore take it (no driver name, no query)."""
    return url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)


@pytest.fixture
def fresh_database(database_url: str) -> Iterator[URL]:
    """A new, empty database on the test server, dropped afterwards."""
    base = make_url(database_url).set(query={})
    name = f"restore_{secrets.token_hex(6)}"
    admin = make_engine(base.render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.engine.dispose()


def _stop_mid_send(standin: StandIn, sender: subprocess.Popen[bytes]) -> None:
    """The first `THROUGH` requests are answered at once and every later one is held, so
    once `THROUGH + CONCURRENCY` have arrived, each of the sender's workers waits on a held
    request and nothing moves: kill the sender there (the held requests are still accepted
    later, as a provider would)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        stats = standin.stats()
        if stats.requests == THROUGH + CONCURRENCY and stats.accepted_requests == THROUGH:
            break
        assert sender.poll() is None, "the sender ended before it could be stopped"
        time.sleep(0.005)
    else:
        pytest.fail("the sender's workers never all waited on a held request")
    sender.send_signal(signal.SIGKILL)
    sender.communicate(timeout=30)


def _answered(standin: StandIn) -> None:
    """Wait until every request the stand-in took has its outcome (the held ones last)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        stats = standin.stats()
        if stats.requests == stats.accepted_requests + stats.rejected_requests:
            return
        time.sleep(0.05)
    pytest.fail("the stand-in still holds requests")


def _in_flight(engine: Engine, issue: Issue) -> set[int]:
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text("SELECT seq FROM send_batch WHERE issue_id = :i AND state = :s"),
            {"i": issue.id, "s": BatchState.IN_FLIGHT},
        )
        return {seq for (seq,) in rows}


def test_a_dump_taken_mid_send_restored_finishes_the_send_without_duplicates(
    engine: Engine, env: Settings, tmp_path: Path, database_url: str, fresh_database: URL
) -> None:
    issue = build(engine, env, tmp_path / "content")
    people = add_subscribers(engine, 150)  # 15 batches of 10
    options = make_url(database_url).query["options"]  # the fixture's own schema
    assert isinstance(options, str)
    schema = options.removeprefix("-csearch_path=")
    dump = tmp_path / "newsletter.dump"
    with StandIn(api_keys=[KEY]) as standin:
        standin.inject("slow", count=THROUGH, seconds=0.02)
        standin.set_default_fault("slow", seconds=HELD)
        environ = _environment(env, standin)
        command = [*SENDER, str(issue.number)]
        sender = subprocess.Popen(
            command, env=environ, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        _stop_mid_send(standin, sender)
        source = _libpq(make_url(database_url))
        subprocess.run(
            ["pg_dump", "--format=custom", f"--schema={schema}", f"--file={dump}", source],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={_libpq(fresh_database)}", str(dump)],
            check=True,
            capture_output=True,
        )
        restored_url = fresh_database.update_query_dict({"options": f"-csearch_path={schema}"})
        restored = make_engine(restored_url.render_as_string(hide_password=False))
        try:
            in_flight = _in_flight(restored, issue)
            assert len(in_flight) == CONCURRENCY  # the dump holds the send mid-way

            standin.set_default_fault(None)
            report = send_issue(restored, issue.number, env, sendgrid(standin))
            _answered(standin)
            received = standin.recipients()
            with session_scope(restored) as session:
                counts = issue_status(session, issue.number)
        finally:
            restored.dispose()

    assert len(received) == len(set(received)), "somebody got the issue twice"
    assert sorted(received) == people.active_emails  # and everybody got it
    assert report.status == IssueStatus.SENT
    # What was in flight at the dump is unknown (its requests may have been accepted: they
    # were), reported, and not sent again; `issue resend-unknown` is the operator's call.
    assert {note.seq for note in counts.unknown_batches} == in_flight
    assert {note.seq for note in report.unknown_batches} == in_flight
    assert report.unknown == sum(note.size for note in counts.unknown_batches) > 0
    assert report.accepted + report.unknown + report.skipped == len(people.active)
