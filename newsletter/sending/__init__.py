"""The exactly-once sending pipeline: the audience snapshot and the ledger, owners and
leases, the send run and its batch workers, the retry policy, one tally of counts, and
the dry run. Callers import from here (`from newsletter.sending import send_issue`).

Modules: `sender` (the entry points), `start` (which statuses start, join or resume a
send, and the gate a start passes), `decision` (what a person is shown before sending by
hand), `run` (a call's share of a send: threads, heartbeat, stop), `worker` (one batch:
claim, deliver, record), `settle` (the issue's status when the workers stop), `retry`,
`tally`, `dryrun`, `message`, `errors`, `standing` (the long-running worker that joins
every send in progress), and the `ledger` package.
"""

from __future__ import annotations

from newsletter.sending.decision import Confirmed, SendDecision, audience_size, send_decision
from newsletter.sending.errors import SendConflict, SendError, SendInputError, SendRefused
from newsletter.sending.ledger import BatchNote, BatchState, LedgerCounts, RecipientState
from newsletter.sending.message import issue_message
from newsletter.sending.sender import issue_status, send_issue, test_send
from newsletter.sending.settle import resumes_by_itself
from newsletter.sending.standing import BackendFactory, StandingWorker, work
from newsletter.sending.tally import ProgressCallback, SendProgress, SendReport, Tally

__all__ = [
    "BackendFactory",
    "BatchNote",
    "BatchState",
    "Confirmed",
    "LedgerCounts",
    "ProgressCallback",
    "RecipientState",
    "SendConflict",
    "SendDecision",
    "SendError",
    "SendInputError",
    "SendProgress",
    "SendRefused",
    "SendReport",
    "StandingWorker",
    "Tally",
    "audience_size",
    "issue_message",
    "issue_status",
    "resumes_by_itself",
    "send_decision",
    "send_issue",
    "test_send",
    "work",
]
