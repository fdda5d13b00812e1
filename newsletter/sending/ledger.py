"""The delivery ledger: who an issue goes to, in which batch, and what became of each batch.

Why it exists: an issue must reach every active subscriber exactly once, even when the sender
is killed mid-send or two senders run at once. Three tables carry that promise:

- `issue_send`: one row per issue whose sending has started: when, how many recipients, in
  how many batches of what size.
- `send_recipient`: the audience, snapshotted once when sending starts (the active
  subscribers at that moment, by an INSERT ... SELECT), each recipient assigned to a batch.
  Its primary key (issue, subscriber) is the database's own guarantee of "at most once".
- `send_batch`: one request's worth of recipients and its state.

Batch states and the one rule that makes kill -9 safe: a batch is committed `in_flight`
(with its owner and a lease) BEFORE its request is sent, and moved after the answer:

    pending ──claim──▶ in_flight ──202──▶ accepted
       ▲                  │ ├──429/5xx/refused──▶ retryable ──claim──▶ in_flight …
       │                  │ ├──400/413/...──────▶ failed
       │                  │ └──timeout/drop─────▶ unknown   (SendGrid may have it: never re-sent)
       │                  └──owner dead──────────▶ unknown   (found in_flight by a later sender)
       └─ every recipient left the list before the claim ──▶ skipped

`pending` and `retryable` are the only states ever sent; `accepted`, `failed`, `unknown` and
`skipped` are final. `unknown` batches keep SendGrid's X-Message-Id when there was an
answer and are named in the request's custom_args, so the event webhook can settle them
later from `processed` events. Recipients move with their batch (queued → accepted / failed
/ unknown), except those found unsubscribed, bounced, complained or forgotten when their
batch is claimed: they become `skipped` and are never sent.

Claims: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`, so senders on several machines
share a send; on SQLite a `BEGIN IMMEDIATE` transaction. Owners are `host:pid:random`; a
heartbeat extends the leases of a live sender's in-flight batches, and a later sender turns
another owner's in-flight batches into `unknown` only once that owner is provably gone (its
lease ran out, or it was a process on this host that no longer exists).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Index, func, text, update
from sqlmodel import Field, Session, SQLModel, col, select

from newsletter.core.clock import utcnow
from newsletter.publishing.models import Issue
from subscribers.models import Status

ERROR_MAX = 1000


class BatchState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    RETRYABLE = "retryable"
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


CLAIMABLE = (BatchState.PENDING, BatchState.RETRYABLE)
OPEN = (BatchState.PENDING, BatchState.RETRYABLE, BatchState.IN_FLIGHT)
FINAL = (BatchState.ACCEPTED, BatchState.FAILED, BatchState.UNKNOWN, BatchState.SKIPPED)


class RecipientState(StrEnum):
    QUEUED = "queued"
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


class IssueSend(SQLModel, table=True):
    """That an issue's sending started, and the shape of its snapshot."""

    __tablename__ = "issue_send"
    issue_id: int = Field(foreign_key="issue.id", primary_key=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    audience: int = 0
    batches: int = 0
    batch_size: int


class SendBatch(SQLModel, table=True):
    """One request's worth of an issue's recipients (see the module docstring for states)."""

    __tablename__ = "send_batch"
    __table_args__ = (Index("ix_send_batch_claim", "issue_id", "state", "seq"),)
    issue_id: int = Field(foreign_key="issue.id", primary_key=True)
    seq: int = Field(primary_key=True)  # 1, 2, ... within the issue
    state: str = Field(default=BatchState.PENDING, max_length=20)
    size: int = 0  # recipients assigned at the snapshot
    sent: int = 0  # recipients in the last request (the others were skipped)
    attempts: int = 0  # requests made, over every run
    tries: int = 0  # failed attempts that were safe to repeat, this run
    owner: str | None = Field(default=None, max_length=200)
    lease_until: float | None = None  # unix seconds
    not_before: float | None = None  # unix seconds; a retry waits until then
    claimed_at: datetime | None = None
    finished_at: datetime | None = None
    message_id: str | None = Field(default=None, max_length=200)  # SendGrid's X-Message-Id
    error: str | None = Field(default=None, max_length=ERROR_MAX)


class SendRecipient(SQLModel, table=True):
    """One subscriber in one issue's audience: their batch and what became of them.

    No foreign key to `subscriber`: the ledger is history, and forgetting a subscriber
    (GDPR) must neither be blocked by it nor rewrite it; the id alone is not the address.
    """

    __tablename__ = "send_recipient"
    __table_args__ = (Index("ix_send_recipient_batch", "issue_id", "batch_seq"),)
    issue_id: int = Field(foreign_key="issue.id", primary_key=True)
    subscriber_id: int = Field(primary_key=True)
    batch_seq: int
    state: str = Field(default=RecipientState.QUEUED, max_length=20)


# ----------------------------------------------------------------------------- owners

_HOST = socket.gethostname()
_live_owners: set[str] = set()
_owners_lock = threading.Lock()


def new_owner() -> str:
    """A token naming this sender: host, process id and a random part (several senders
    may live in one process)."""
    owner = f"{_HOST}:{os.getpid()}:{secrets.token_hex(6)}"
    with _owners_lock:
        _live_owners.add(owner)
    return owner


def retire_owner(owner: str) -> None:
    with _owners_lock:
        _live_owners.discard(owner)


def owner_is_gone(owner: str | None) -> bool:
    """Whether `owner` is certainly dead: a process of this host that no longer exists, or
    an earlier sender of this very process. Owners on other hosts are judged by lease."""
    if owner is None:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _owners_lock:
            return owner not in _live_owners
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False


# ------------------------------------------------------------------------ the snapshot

_SNAPSHOT = text(
    """
    INSERT INTO send_recipient (issue_id, subscriber_id, batch_seq, state)
    SELECT :issue_id, s.id, (ROW_NUMBER() OVER (ORDER BY s.id) - 1) / CAST(:size AS INTEGER) + 1,
        :queued
    FROM subscriber s
    WHERE s.status = :active
    """
)
_BATCHES = text(
    """
    INSERT INTO send_batch (issue_id, seq, state, size, sent, attempts, tries)
    SELECT issue_id, batch_seq, :pending, COUNT(*), 0, 0, 0
    FROM send_recipient
    WHERE issue_id = :issue_id
    GROUP BY issue_id, batch_seq
    """
)


def snapshot_audience(session: Session, issue_id: int, batch_size: int) -> IssueSend:
    """Record the audience (the active subscribers now) and its batches, in SQL.

    Run in the transaction that moves the issue into `sending`, so either both happen or
    neither: a crash here leaves the issue as it was.
    """
    conn = session.connection()
    conn.execute(
        _SNAPSHOT,
        {
            "issue_id": issue_id,
            "size": batch_size,
            "queued": RecipientState.QUEUED.value,
            "active": Status.ACTIVE.value,
        },
    )
    conn.execute(_BATCHES, {"issue_id": issue_id, "pending": BatchState.PENDING.value})
    audience, batches = conn.execute(
        text("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM send_batch WHERE issue_id = :i"),
        {"i": issue_id},
    ).one()
    record = IssueSend(
        issue_id=issue_id, audience=int(audience), batches=int(batches), batch_size=batch_size
    )
    session.add(record)
    session.flush()
    return record


# ---------------------------------------------------------------------------- claiming


@dataclass(frozen=True)
class Claimed:
    """A batch this sender now owns: committed `in_flight` before anything is sent."""

    seq: int
    attempt: int
    tries: int


class NotSending(Exception):
    """The issue left `sending` (paused or finished elsewhere): stop claiming."""


def _core(session: Session) -> Connection:
    """The session's connection, for the statements run once per batch: as plain Core
    they skip the ORM's bookkeeping for bulk UPDATEs (there are no objects to keep in
    step), which costs more than the statements themselves."""
    return session.connection()


def _chunks(items: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def claim_batch(
    session: Session,
    issue_id: int,
    owner: str,
    *,
    now: float,
    lease: float,
    max_tries: int,
) -> Claimed | None:
    """Take the next sendable batch and mark it `in_flight` (one UPDATE ... RETURNING).

    None when nothing can be sent right now; NotSending when the issue left `sending`.
    Call inside `session_scope(immediate=True)`: the caller's commit is what makes the
    in-flight mark durable, and it must happen before the batch's request is sent.
    """
    pick = (
        select(SendBatch.seq)
        .where(SendBatch.issue_id == issue_id)
        .where(col(SendBatch.state).in_(CLAIMABLE))
        .where(col(SendBatch.tries) < max_tries)
        .where((col(SendBatch.not_before).is_(None)) | (col(SendBatch.not_before) <= now))
        .where(select(Issue.id).where(Issue.id == issue_id, Issue.status == "sending").exists())
        .order_by(col(SendBatch.seq))
        .limit(1)
    )
    if session.get_bind().dialect.name != "sqlite":
        pick = pick.with_for_update(skip_locked=True)  # several senders share the send
    row = (
        _core(session)
        .execute(
            update(SendBatch)
            .where(col(SendBatch.issue_id) == issue_id)
            .where(col(SendBatch.seq) == pick.scalar_subquery())
            .values(
                state=BatchState.IN_FLIGHT,
                owner=owner,
                lease_until=now + lease,
                attempts=col(SendBatch.attempts) + 1,
                claimed_at=utcnow(),
            )
            .returning(col(SendBatch.seq), col(SendBatch.attempts), col(SendBatch.tries))
        )
        .first()
    )
    if row is not None:
        return Claimed(int(row[0]), int(row[1]), int(row[2]))
    status = session.exec(select(Issue.status).where(Issue.id == issue_id)).one()
    if status != "sending":
        raise NotSending(status)
    return None


@dataclass(frozen=True)
class Members:
    """A claimed batch's recipients as they are now: who to send to, who left the list."""

    send: list[tuple[int, str, str | None]]  # (subscriber id, email, name)
    gone: list[int]


_MEMBERS = """
    SELECT r.subscriber_id, s.email, s.name, s.status
    FROM send_recipient r LEFT JOIN subscriber s ON s.id = r.subscriber_id
    WHERE r.issue_id = {issue_id} AND r.batch_seq = {seq} AND r.state = {queued}
"""
_MEMBERS_BY_STYLE = {  # the drivers' own placeholders: sqlite3 and psycopg
    "sqlite": _MEMBERS.format(issue_id=":issue_id", seq=":seq", queued=":queued"),
    "postgresql": _MEMBERS.format(issue_id="%(issue_id)s", seq="%(seq)s", queued="%(queued)s"),
}


def batch_members(session: Session, issue_id: int, seq: int) -> Members:
    """Read (no lock needed) the queued recipients of a batch, checking each one's status
    now: only active subscribers are sent to; the others will be recorded `skipped`.

    Read through the driver's cursor: a thousand rows a batch, a million a send, and
    SQLAlchemy's row objects would cost more than the query.
    """
    connection = session.connection()
    sql = _MEMBERS_BY_STYLE[connection.dialect.name]
    cursor = connection.connection.cursor()
    try:
        cursor.execute(
            sql, {"issue_id": issue_id, "seq": seq, "queued": RecipientState.QUEUED.value}
        )
        rows = list(cursor.fetchall())
    finally:
        cursor.close()
    # No ORDER BY: SQLite would then walk the whole issue by primary key instead of the
    # batch index (60 ms instead of 0.5 ms for 1,000 of 1,000,000); sorted here instead.
    rows.sort(key=_first)
    send: list[tuple[int, str, str | None]] = []
    gone: list[int] = []
    active = Status.ACTIVE.value
    for subscriber_id, email, name, status in rows:
        if status == active and email:
            send.append((subscriber_id, email, name))
        else:
            gone.append(subscriber_id)
    return Members(send, gone)


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def record_outcome(
    session: Session,
    issue_id: int,
    seq: int,
    owner: str,
    state: BatchState,
    *,
    message_id: str | None = None,
    error: str | None = None,
    not_before: float | None = None,
    sent: int | None = None,
    skipped: Sequence[int] = (),
) -> bool:
    """Move this owner's in-flight batch to what its request came to, recipients included:
    `skipped` are those found gone at the claim, `sent` how many the request carried.

    A batch another sender already declared `unknown` (our lease ran out while we waited
    on SendGrid) is corrected too: a definite answer beats a guess. False if the batch was
    not ours to settle.
    """
    values: dict[str, Any] = {
        "state": state,
        "lease_until": None,
        "error": error[:ERROR_MAX] if error else None,
    }
    if sent is not None:
        values["sent"] = sent
    if message_id is not None:
        values["message_id"] = message_id[:200]
    if state == BatchState.RETRYABLE:
        values.update(not_before=not_before, tries=col(SendBatch.tries) + 1)
    else:
        values["finished_at"] = utcnow()
    result = _core(session).execute(
        update(SendBatch)
        .where(col(SendBatch.issue_id) == issue_id)
        .where(col(SendBatch.seq) == seq)
        .where(col(SendBatch.owner) == owner)
        .where(col(SendBatch.state).in_((BatchState.IN_FLIGHT, BatchState.UNKNOWN)))
        .values(**values)
    )
    if result.rowcount != 1:
        return False
    for part in _chunks(skipped):
        _core(session).execute(
            update(SendRecipient)
            .where(col(SendRecipient.issue_id) == issue_id)
            .where(col(SendRecipient.subscriber_id).in_(part))
            .values(state=RecipientState.SKIPPED)
        )
    if state != BatchState.SKIPPED:
        _settle_recipients(session, issue_id, seq, state)
    return True


def _settle_recipients(session: Session, issue_id: int, seq: int, state: BatchState) -> int:
    """Move a batch's recipients along with it; returns how many moved."""
    target = {
        BatchState.ACCEPTED: RecipientState.ACCEPTED,
        BatchState.FAILED: RecipientState.FAILED,
        BatchState.UNKNOWN: RecipientState.UNKNOWN,
    }.get(state, RecipientState.QUEUED)  # retryable: they stay queued for the next claim
    result = _core(session).execute(
        update(SendRecipient)
        .where(col(SendRecipient.issue_id) == issue_id)
        .where(col(SendRecipient.batch_seq) == seq)
        .where(col(SendRecipient.state).in_((RecipientState.QUEUED, RecipientState.UNKNOWN)))
        .values(state=target)
    )
    return int(result.rowcount)


def heartbeat(session: Session, owner: str, *, now: float, lease: float) -> int:
    """Extend the leases of every batch this owner has in flight."""
    result = session.exec(
        update(SendBatch)
        .where(col(SendBatch.owner) == owner)
        .where(col(SendBatch.state) == BatchState.IN_FLIGHT)
        .values(lease_until=now + lease)
    )
    return int(result.rowcount)


def reap_orphans(
    session: Session,
    issue_id: int,
    *,
    now: float,
    is_gone: Callable[[str | None], bool] = owner_is_gone,
    resend_safe: bool = False,
) -> list[tuple[int, int]]:
    """Declare `unknown` the in-flight batches whose sender is gone; returns each one's
    number and recipient count.

    Their request may or may not have reached SendGrid, so they are never sent again; the
    operator sees them in `issue status`, and the event webhook can settle them later.
    With a backend whose resending cannot duplicate (`resend_safe`: the outbox rewrites
    the same files), they become `retryable` instead and are not counted.
    """
    rows = session.exec(
        select(SendBatch.seq, SendBatch.owner, SendBatch.lease_until)
        .where(SendBatch.issue_id == issue_id)
        .where(SendBatch.state == BatchState.IN_FLIGHT)
    ).all()
    reaped: list[tuple[int, int]] = []
    for seq, owner, lease_until in rows:
        expired = lease_until is None or lease_until < now
        if not (expired or is_gone(owner)):
            continue
        values: dict[str, object] = (
            {
                "state": BatchState.RETRYABLE,
                "owner": None,
                "lease_until": None,
                "error": f"in flight when its sender {owner} stopped; written again",
            }
            if resend_safe
            else {
                "state": BatchState.UNKNOWN,
                "finished_at": utcnow(),
                "error": f"in flight when its sender {owner} stopped: "
                "SendGrid may have accepted it",
            }
        )
        result = session.exec(
            update(SendBatch)
            .where(col(SendBatch.issue_id) == issue_id)
            .where(col(SendBatch.seq) == seq)
            .where(col(SendBatch.state) == BatchState.IN_FLIGHT)
            .where(col(SendBatch.owner) == owner)
            .values(**values)
        )
        if result.rowcount == 1 and not resend_safe:
            reaped.append((seq, _settle_recipients(session, issue_id, seq, BatchState.UNKNOWN)))
    return reaped


def reset_tries(session: Session, issue_id: int) -> int:
    """A new run gives retryable batches a fresh allowance of attempts."""
    result = session.exec(
        update(SendBatch)
        .where(col(SendBatch.issue_id) == issue_id)
        .where(col(SendBatch.state) == BatchState.RETRYABLE)
        .values(tries=0, not_before=None)
    )
    return int(result.rowcount)


@dataclass(frozen=True)
class OpenWork:
    """What is left of a send, seen by one sender at one moment."""

    claimable: int  # may be claimed now
    waiting: int  # retryable, due later (`next_due`)
    exhausted: int  # retryable, out of attempts for this run
    in_flight_mine: int
    in_flight_others: int
    next_due: float | None

    @property
    def done(self) -> bool:
        return not (
            self.claimable
            or self.waiting
            or self.exhausted
            or self.in_flight_mine
            or self.in_flight_others
        )


def open_work(
    session: Session, issue_id: int, owner: str, *, now: float, max_tries: int
) -> OpenWork:
    rows = session.exec(
        select(SendBatch.state, SendBatch.owner, SendBatch.tries, SendBatch.not_before)
        .where(SendBatch.issue_id == issue_id)
        .where(col(SendBatch.state).in_(OPEN))
    ).all()
    claimable = waiting = exhausted = mine = others = 0
    next_due: float | None = None
    for state, batch_owner, tries, not_before in rows:
        if state == BatchState.IN_FLIGHT:
            if batch_owner == owner:
                mine += 1
            else:
                others += 1
        elif tries >= max_tries:
            exhausted += 1
        elif not_before is not None and not_before > now:
            waiting += 1
            next_due = not_before if next_due is None else min(next_due, not_before)
        else:
            claimable += 1
    return OpenWork(claimable, waiting, exhausted, mine, others, next_due)


# ------------------------------------------------------------------------------ counts


@dataclass(frozen=True)
class BatchNote:
    seq: int
    size: int
    state: str
    message_id: str | None
    error: str | None


@dataclass(frozen=True)
class LedgerCounts:
    """An issue's delivery as the ledger has it: what `issue status` shows."""

    issue_number: int
    status: str
    status_reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    audience: int
    batch_size: int
    batches: dict[str, int] = field(default_factory=dict)
    recipients: dict[str, int] = field(default_factory=dict)
    unknown_batches: list[BatchNote] = field(default_factory=list)
    failed_batches: list[BatchNote] = field(default_factory=list)
    retryable_batches: list[BatchNote] = field(default_factory=list)

    @property
    def started(self) -> bool:
        return self.started_at is not None

    def batch_count(self, state: BatchState) -> int:
        return self.batches.get(state.value, 0)

    def recipient_count(self, state: RecipientState) -> int:
        return self.recipients.get(state.value, 0)

    @property
    def accepted(self) -> int:
        return self.recipient_count(RecipientState.ACCEPTED)

    @property
    def skipped(self) -> int:
        return self.recipient_count(RecipientState.SKIPPED)

    @property
    def failed(self) -> int:
        return self.recipient_count(RecipientState.FAILED)

    @property
    def unknown(self) -> int:
        return self.recipient_count(RecipientState.UNKNOWN)

    @property
    def queued(self) -> int:
        return self.recipient_count(RecipientState.QUEUED)

    @property
    def open_batches(self) -> int:
        return sum(self.batch_count(state) for state in OPEN)

    @property
    def settled(self) -> int:
        """Recipients whose outcome is decided (everything but queued)."""
        return self.audience - self.recipient_count(RecipientState.QUEUED)


NOTES_LIMIT = 1000


def ledger_counts(session: Session, issue: Issue) -> LedgerCounts:
    issue_id = issue.id
    record = session.get(IssueSend, issue_id)
    batches = {
        str(state): int(n)
        for state, n in session.exec(
            select(SendBatch.state, func.count())
            .where(SendBatch.issue_id == issue_id)
            .group_by(col(SendBatch.state))
        ).all()
    }
    recipients = {
        str(state): int(n)
        for state, n in session.exec(
            select(SendRecipient.state, func.count())
            .where(SendRecipient.issue_id == issue_id)
            .group_by(col(SendRecipient.state))
        ).all()
    }

    def notes(state: BatchState) -> list[BatchNote]:
        rows = session.exec(
            select(SendBatch)
            .where(SendBatch.issue_id == issue_id)
            .where(SendBatch.state == state)
            .order_by(col(SendBatch.seq))
            .limit(NOTES_LIMIT)
        ).all()
        return [BatchNote(b.seq, b.sent or b.size, b.state, b.message_id, b.error) for b in rows]

    return LedgerCounts(
        issue_number=issue.number,
        status=issue.status,
        status_reason=issue.status_reason,
        started_at=record.started_at if record else None,
        finished_at=record.finished_at if record else None,
        audience=record.audience if record else 0,
        batch_size=record.batch_size if record else 0,
        batches=batches,
        recipients=recipients,
        unknown_batches=notes(BatchState.UNKNOWN),
        failed_batches=notes(BatchState.FAILED),
        retryable_batches=notes(BatchState.RETRYABLE),
    )


def mark_finished(session: Session, issue_id: int) -> None:
    session.exec(
        update(IssueSend)
        .where(col(IssueSend.issue_id) == issue_id)
        .where(col(IssueSend.finished_at).is_(None))
        .values(finished_at=utcnow())
    )


def issue_status(session: Session, number: int) -> LedgerCounts:
    """The ledger counts of issue `number` (IssueError if there is none)."""
    from newsletter.publishing.issues import get_issue

    return ledger_counts(session, get_issue(session, number))
