"""Sends built through the ledger for the tracking tests, events to post, and what the
database holds afterwards.

A send here is the ledger's own path (snapshot, claim, outcome, finish) with no provider
behind it: what tracking reads is the ledger's rows, and a batch can be made `unknown`
exactly as a lost answer makes it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import col, insert, update

from newsletter.core.database import session_scope
from newsletter.core.sql import row_id
from newsletter.delivery.events import BounceKind, DeliveryEvent, EventType
from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import SENDING, STARTABLE, IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending.ledger import (
    BatchState,
    IssueSend,
    claim_batch,
    finished_outcome,
    ledger_counts,
    mark_finished,
    new_owner,
    record_outcome,
    snapshot_audience,
)
from newsletter.tracking.models import RecipientActivity
from subscribers.models import Subscriber

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)
ADDRESSES: dict[int, str] = {}
"""Each subscriber `add_subscribers` made, by id: SendGrid's events carry the address, and
an event about another address than the subscriber's is not theirs."""


def add_subscribers(engine: Engine, count: int, *, start: int = 0) -> list[int]:
    """`count` active subscribers; their ids in order."""
    rows = [
        {"email": f"reader{i:06d}@example.com", "name": None, "status": "active"}
        for i in range(start, start + count)
    ]
    with session_scope(engine) as session:
        session.exec(insert(Subscriber), params=rows)
        found = session.connection().execute(
            text("SELECT id FROM subscriber WHERE email >= :a AND email <= :b ORDER BY id"),
            {"a": rows[0]["email"], "b": rows[-1]["email"]},
        )
        ids = [int(sid) for (sid,) in found]
    ADDRESSES.update(zip(ids, (str(row["email"]) for row in rows), strict=True))
    return ids


def make_issue(engine: Engine, number: int) -> int:
    """An approved issue with a frozen snapshot (its own week)."""
    with session_scope(engine) as session:
        issue = Issue(
            number=number,
            week=f"2026-W{number:02d}",
            status=IssueStatus.APPROVED,
            subject=f"Issue {number}",
            html="<p>hello</p>",
            text="hello",
        )
        session.add(issue)
        session.flush()
        return row_id(issue.id)


@dataclass
class Sent:
    issue_id: int
    number: int
    batch_of: dict[int, int]  # subscriber id -> batch seq

    @property
    def subscribers(self) -> list[int]:
        return sorted(self.batch_of)


def send(
    engine: Engine,
    number: int,
    *,
    batch_size: int = 10,
    unknown: Collection[int] = (),
    failed: Collection[int] = (),
    finish: bool = True,
    started_at: datetime | None = None,
    claims: int | None = None,
) -> Sent:
    """Issue `number` sent through the ledger to every active subscriber: batches in
    `unknown` lose their answer, those in `failed` are refused, the others accepted; then
    finished as the sender finishes (`sent`/`failed` with the ledger's reason), or left
    `sending` when `finish` is False (after `claims` batches, if given, the rest pending)."""
    issue_id = make_issue(engine, number)
    with session_scope(engine, immediate=True) as session:
        assert lifecycle.move(session, issue_id, STARTABLE, IssueStatus.SENDING)
        snapshot_audience(session, issue_id, batch_size)
        if started_at is not None:
            session.exec(
                update(IssueSend)
                .where(col(IssueSend.issue_id) == issue_id)
                .values(started_at=started_at)
            )
    owner = new_owner()
    for _ in itertools.count() if claims is None else range(claims):
        with session_scope(engine, immediate=True) as session:
            claimed = claim_batch(session, issue_id, owner, now=time.time(), lease=60, max_tries=5)
            if claimed is None:
                break
            seq = claimed.seq
            if seq in unknown:
                state, error = BatchState.UNKNOWN, "timed out waiting for the answer"
            elif seq in failed:
                state, error = BatchState.FAILED, "HTTP 400: bad request"
            else:
                state, error = BatchState.ACCEPTED, None
            record_outcome(
                session, issue_id, seq, owner, state, message_id=f"msg-{number}-{seq}", error=error
            )
    if finish:
        with session_scope(engine, immediate=True) as session:
            issue = session.get(Issue, issue_id)
            assert issue is not None
            to, reason = finished_outcome(ledger_counts(session, issue))
            assert lifecycle.move(session, issue_id, SENDING, to, reason=reason)
            mark_finished(session, issue_id)
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text("SELECT subscriber_id, batch_seq FROM send_recipient WHERE issue_id = :i"),
            {"i": issue_id},
        )
        return Sent(issue_id, number, {int(s): int(b) for s, b in rows})


def event(
    type: EventType,
    subscriber_id: int | None,
    number: int | None,
    *,
    event_id: str | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> DeliveryEvent:
    """A SendGrid event as the parser hands it over (a fresh id unless given)."""
    n = next(_ids)
    fields.setdefault("provider_type", str(type))
    return DeliveryEvent(
        provider="sendgrid",
        event_id=event_id or f"ev-{n}",
        type=type,
        occurred_at=at or T0 + timedelta(seconds=n),
        email=fields.pop("email", None) or ADDRESSES.get(subscriber_id or 0, "x@example.com"),
        issue_number=number,
        subscriber_id=subscriber_id,
        **fields,
    )


def hard_bounce(subscriber_id: int, number: int, **fields: Any) -> DeliveryEvent:
    return event(
        EventType.BOUNCED,
        subscriber_id,
        number,
        bounce_kind=BounceKind.HARD,
        classification="Invalid Address",
        smtp_status="5.1.1",
        reason="550 5.1.1 no such user",
        **fields,
    )


def soft_bounce(subscriber_id: int, number: int, **fields: Any) -> DeliveryEvent:
    return event(
        EventType.BOUNCED,
        subscriber_id,
        number,
        bounce_kind=BounceKind.SOFT,
        classification="Mailbox Unavailable",
        reason="452 mailbox full",
        **fields,
    )


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        result = session.connection().execute(text(sql), params)
        return [dict(row._mapping) for row in result]


def tallies(engine: Engine, issue_id: int) -> dict[str, int]:
    found = rows(engine, "SELECT name, value FROM event_tally WHERE issue_id = :i", i=issue_id)
    return {r["name"]: int(r["value"]) for r in found if r["value"]}


def activity(engine: Engine, issue_id: int, subscriber_id: int) -> dict[str, Any] | None:
    """The recipient's row, read through the model (so times come back as SQLAlchemy reads
    them: what the raw writes stored must read the same)."""
    with session_scope(engine) as session:
        row = session.get(RecipientActivity, (issue_id, subscriber_id))
        return row.model_dump() if row is not None else None


def status(engine: Engine, subscriber_id: int) -> str:
    return str(
        rows(engine, "SELECT status FROM subscriber WHERE id = :i", i=subscriber_id)[0]["status"]
    )


def issue_state(engine: Engine, issue_id: int) -> tuple[str, str | None, str | None]:
    row = rows(
        engine, "SELECT status, status_reason, pause_cause FROM issue WHERE id = :i", i=issue_id
    )[0]
    return row["status"], row["status_reason"], row["pause_cause"]


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table tracking or suppression may write (what "nothing changed" means)."""
    names = [
        "delivery_event",
        "recipient_activity",
        "issue_link",
        "link_click",
        "event_tally",
        "status_change",
    ]
    return {n: int(rows(engine, f"SELECT COUNT(*) AS n FROM {n}")[0]["n"]) for n in names}  # noqa: S608


def statuses(engine: Engine) -> dict[int, str]:
    return {int(r["id"]): r["status"] for r in rows(engine, "SELECT id, status FROM subscriber")}


def ledger(engine: Engine) -> dict[str, Any]:
    """The ledger's states and the issues' statuses (what events must not touch, unless
    they settle an unknown batch)."""
    return {
        "recipients": rows(
            engine,
            "SELECT issue_id, subscriber_id, state FROM send_recipient"
            " ORDER BY issue_id, subscriber_id",
        ),
        "batches": rows(
            engine, "SELECT issue_id, seq, state, error FROM send_batch ORDER BY issue_id, seq"
        ),
        "issues": rows(engine, "SELECT id, status, status_reason FROM issue ORDER BY id"),
    }


def filled(row: dict[str, Any] | None) -> dict[str, Any]:
    """The columns of an activity row that hold something (its key left out)."""
    if row is None:
        return {}
    return {
        k: v
        for k, v in row.items()
        if v not in (None, False, 0) and k not in ("issue_id", "subscriber_id")
    }
