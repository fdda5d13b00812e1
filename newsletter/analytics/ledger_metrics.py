"""The delivery ledger as Prometheus gauges, read from the database at each scrape.

Why from the database: sends run in `issue send`, the scheduler, the desk's background
thread and `newsletter worker` processes on any machine; the ledger is the one place that
knows all of them, and it survives restarts. Gauges, not counters: a batch moves between
states (an `unknown` one settles as `accepted` when its events arrive).

Why from `send_batch` alone: it has one row per request (1,000 recipients), so one grouped
read of it stays cheap however large the list (a year of weekly million-recipient sends is
some 52,000 rows), where counting `send_recipient` by state would read every recipient of
every issue (a million rows per issue) at each scrape. Recipients are therefore counted by
the outcome of the batch that carried them: `sent` recipients (the last request's) take the
batch's state, the rest of its `size` were found gone at the claim (`skipped`). Two cases
this reads differently from `issue status`: recipients the outbox refused one by one inside
an accepted batch count as accepted, and recipients of an `unknown` batch that an event
settled singly (or that `issue resend-unknown` moved to a new batch) still count with their
batch until the batch itself settles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from sqlalchemy import Engine, case, func, select
from sqlmodel import col

from newsletter.sending.ledger import BatchState, RecipientState, SendBatch

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

ATTEMPTS_SHOWN: Final = 10
"""Batches with this many requests or more share one label value (`10+`), so the number of
series stays bounded."""

_CARRIED: Final = {
    BatchState.PENDING: RecipientState.QUEUED,
    BatchState.IN_FLIGHT: RecipientState.QUEUED,
    BatchState.RETRYABLE: RecipientState.QUEUED,
    BatchState.ACCEPTED: RecipientState.ACCEPTED,
    BatchState.FAILED: RecipientState.FAILED,
    BatchState.UNKNOWN: RecipientState.UNKNOWN,
    BatchState.SKIPPED: RecipientState.SKIPPED,
}
"""What a batch's carried recipients are, by the batch's state."""


def attempts_label(attempts: int) -> str:
    return f"{ATTEMPTS_SHOWN}+" if attempts >= ATTEMPTS_SHOWN else str(attempts)


class LedgerCollector:
    """A prometheus_client collector: one grouped statement over `send_batch` per scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        # Imported here, as in `core.metrics`: prometheus_client picks its storage when
        # first imported, which must follow the choice of the metrics directory.
        from prometheus_client.core import GaugeMetricFamily

        carried = case((col(SendBatch.sent) > 0, col(SendBatch.sent)), else_=col(SendBatch.size))
        statement = select(
            col(SendBatch.state),
            col(SendBatch.attempts),
            func.count(),
            func.coalesce(func.sum(col(SendBatch.size)), 0),
            func.coalesce(func.sum(carried), 0),
        ).group_by(col(SendBatch.state), col(SendBatch.attempts))
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        batches: Counter[tuple[str, str]] = Counter()
        recipients: Counter[str] = Counter({state.value: 0 for state in RecipientState})
        for state, attempts, count, size, sent in rows:
            batches[(str(state), attempts_label(int(attempts)))] += int(count)
            outcome = _CARRIED.get(BatchState(state), RecipientState.QUEUED)
            if outcome == RecipientState.SKIPPED:
                recipients[outcome.value] += int(size)
            else:
                recipients[outcome.value] += int(sent)
                recipients[RecipientState.SKIPPED.value] += int(size) - int(sent)
        by_outcome = GaugeMetricFamily(
            "newsletter_recipients",
            "Recipients in the delivery ledger (every issue), by the outcome of their batch.",
            labels=["outcome"],
        )
        for name, n in sorted(recipients.items()):
            by_outcome.add_metric([name], n)
        yield by_outcome
        by_state = GaugeMetricFamily(
            "newsletter_batches",
            "Batches (one request each) in the delivery ledger, by state and requests made.",
            labels=["state", "attempts"],
        )
        for (state, attempts), n in sorted(batches.items()):
            by_state.add_metric([state, attempts], n)
        yield by_state
