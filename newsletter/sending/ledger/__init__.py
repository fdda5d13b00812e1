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
       │                  │ └──timeout/drop─────▶ unknown   (may have been taken: never re-sent)
       │                  └──owner dead──────────▶ unknown   (found in_flight by a later sender)
       └─ every recipient left the list before the claim ──▶ skipped

`pending` and `retryable` are the only states ever sent; `accepted`, `failed`, `unknown` and
`skipped` are final, except that a late answer (its sender's lease ran out while it waited
on the provider) settles an `unknown` batch: as accepted or failed, or back to `retryable`
only while the issue is still sending or paused (see `outcomes`). `unknown` batches keep the
provider's message id when there was an answer and are named in the request's custom_args,
so the event webhook can settle them later from `processed` events. Recipients move with
their batch (queued → accepted / failed / unknown; a provider that refuses recipients one by
one, as the outbox may, fails just those in an accepted batch), except those found
unsubscribed, bounced, complained or forgotten when their batch is claimed: they become
`skipped` and are never sent.

Claims: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`, so senders on several machines
share a send; on SQLite a `BEGIN IMMEDIATE` transaction. Owners are `host:pid:random`; a
heartbeat extends the leases of a live sender's in-flight batches, and a later sender turns
another owner's in-flight batches into `unknown` only once that owner is provably gone (its
lease ran out, or it was a process on this host that no longer exists).

The modules: `tables` (rows and states), `snapshot` (the audience), `claims` (claiming a
batch, what is left), `outcomes` (recording what a batch came to, late answers included),
`owners` (tokens, leases, reaping), `partitions` (on PostgreSQL, one table per issue's
audience) and `counts` (what `issue status` shows, what a finished
send comes to). Import from here.
"""

from __future__ import annotations

from newsletter.sending.ledger.claims import (
    Claimed,
    Members,
    NotSending,
    OpenWork,
    batch_members,
    claim_batch,
    open_work,
    reset_tries,
)
from newsletter.sending.ledger.counts import (
    NOTES_LIMIT,
    BatchNote,
    LedgerCounts,
    finished_outcome,
    issue_status,
    ledger_counts,
    mark_finished,
)
from newsletter.sending.ledger.outcomes import (
    LATE_REFUSAL,
    record_outcome,
    settle_recipients,
)
from newsletter.sending.ledger.owners import (
    heartbeat,
    new_owner,
    owner_is_gone,
    reap_orphans,
    retire_owner,
)
from newsletter.sending.ledger.partitions import make_room
from newsletter.sending.ledger.snapshot import (
    snapshot_audience,
)
from newsletter.sending.ledger.tables import (
    CLAIMABLE,
    ERROR_MAX,
    FINAL,
    OPEN,
    BatchState,
    IssueSend,
    RecipientState,
    SendBatch,
    SendRecipient,
)

__all__ = [
    "CLAIMABLE",
    "ERROR_MAX",
    "FINAL",
    "LATE_REFUSAL",
    "NOTES_LIMIT",
    "OPEN",
    "BatchNote",
    "BatchState",
    "Claimed",
    "IssueSend",
    "LedgerCounts",
    "Members",
    "NotSending",
    "OpenWork",
    "RecipientState",
    "SendBatch",
    "SendRecipient",
    "batch_members",
    "claim_batch",
    "finished_outcome",
    "heartbeat",
    "issue_status",
    "ledger_counts",
    "make_room",
    "mark_finished",
    "new_owner",
    "open_work",
    "owner_is_gone",
    "reap_orphans",
    "record_outcome",
    "reset_tries",
    "retire_owner",
    "settle_recipients",
    "snapshot_audience",
]
