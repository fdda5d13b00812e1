"""How a call joins an issue's send: start it (snapshotting the audience), resume it, join
it, or find it already sent. Which statuses may be sent:

- `draft` and `approved` start a send, once the issue passes the gate
  (`publishing.gate`: the editor's checks find no error, and an approved issue still holds
  the snapshot that was approved): the lifecycle's compare-and-set moves the issue to
  `sending` and, in the same transaction, the audience is snapshotted into batches. Two
  processes starting at once: one wins the move, the other joins.
- `sending` joins the send: only through batch claims, so several senders (threads,
  processes, machines) share it. `paused` resumes it.
- `sent` and `failed` finish any batches never sent (there should be none) and otherwise
  report "already sent".
- `held` and `cancelled` are refused: an editor decided the issue must not go out.

A standing worker (`join_only`) joins a send in progress and nothing else: any other status
is refused, so a paused issue waits for whoever paused it (a person, the scheduler).

A send started by a person's decision carries what they were shown (`decision.Confirmed`):
it starts only if the issue still has that status and that snapshot when its row is locked,
else it is refused with "changed since you confirmed" and nothing is sent. Joining or
resuming is not a new decision and ignores it.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing import lifecycle
from newsletter.publishing.gate import ensure_fit_to_send
from newsletter.publishing.lifecycle import (
    FINISHED,
    NOT_TO_BE_SENT,
    PAUSED,
    STARTABLE,
    IssueStatus,
)
from newsletter.publishing.models import Issue
from newsletter.sending import ledger
from newsletter.sending.decision import Confirmed
from newsletter.sending.errors import SendConflict, SendRefused

Begun = Literal["started", "joined", "resumed", "already sent"]


def begin(
    engine: Engine,
    issue: Issue,
    settings: Settings,
    expected: Confirmed | None = None,
    *,
    join_only: bool = False,
) -> Begun:
    """Move the issue into `sending` (snapshotting the audience) or join/resume its send.

    Starting checks the snapshot with the row locked (`lock_while`), so no approval or
    re-render can slip in between the gate and the move: what passed is what is sent. With
    `expected`, a start also needs the issue to be what the person confirmed.
    """
    issue_id = issue.id
    assert issue_id is not None
    with session_scope(engine, immediate=True) as session:
        status = lifecycle.status_of(session, issue_id)
        if join_only and status != IssueStatus.SENDING:
            raise SendConflict(f"issue #{issue.number} is {status}; a worker joins only a send")
        if status in NOT_TO_BE_SENT:
            raise SendRefused(
                f"issue #{issue.number} is {status}; only draft or approved issues are sent"
            )
        if status in STARTABLE:
            if lifecycle.lock_while(session, issue_id, STARTABLE):
                row = session.get(Issue, issue_id)
                assert row is not None
                if expected is not None and not expected.matches(row):
                    raise SendConflict(
                        f"issue #{issue.number} changed since you confirmed; run the command again"
                    )
                ensure_fit_to_send(session, row, settings)
                if not lifecycle.move(session, issue_id, STARTABLE, IssueStatus.SENDING):
                    raise SendConflict(f"issue #{issue.number} changed as it started; try again")
                if session.get(ledger.IssueSend, issue_id) is None:
                    ledger.snapshot_audience(session, issue_id, settings.batch_size)
                return "started"
            status = lifecycle.status_of(session, issue_id)  # another sender started it just now
        if status == IssueStatus.PAUSED:
            lifecycle.move(session, issue_id, PAUSED, IssueStatus.SENDING)
            ledger.reset_tries(session, issue_id)
            return "resumed"
        if status == IssueStatus.SENDING:
            ledger.reset_tries(session, issue_id)
            return "joined"
        if status in NOT_TO_BE_SENT:  # held or cancelled while another sender lost the race
            raise SendRefused(f"issue #{issue.number} is {status}; it cannot be sent")
        if status not in FINISHED:
            raise SendConflict(f"issue #{issue.number} is {status}; it cannot be sent")
        open_batch = session.exec(
            select(ledger.SendBatch.seq)
            .where(ledger.SendBatch.issue_id == issue_id)
            .where(col(ledger.SendBatch.state).in_(ledger.CLAIMABLE))
            .limit(1)
        ).first()
        if open_batch is not None:
            lifecycle.move(session, issue_id, FINISHED, IssueStatus.SENDING)
            ledger.reset_tries(session, issue_id)
            return "resumed"
        return "already sent"
