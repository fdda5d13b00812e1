"""Repeated soft bounces: an address that soft-bounced in `soft_bounce_limit` of the last
`soft_bounce_window` issues sent to it, counted since its last delivery, is suppressed as
bounced.

Why: one blocked message says little (a full mailbox, a provider's bad day), but an address
that keeps failing is damaging the sender's reputation. A delivery in between resets the
count, so an address with occasional trouble is kept.

"The issues sent to it" are its `send_recipient` rows that went out (accepted, or unknown:
possibly sent), newest first by `issue_send.started_at`. `send_recipient` is keyed by
(issue, subscriber) with no index by subscriber alone, so the lookup walks the few most
recent sends (a small table: one row per issue) and asks for the subscribers by primary
key in each, a page of issues at a time, never scanning the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import and_, select
from sqlmodel import Session

from newsletter.core.settings import Settings
from newsletter.core.sql import table_of
from newsletter.sending.ledger import IssueSend, RecipientState, SendRecipient
from newsletter.tracking.match import chunks
from newsletter.tracking.models import Delivery, RecipientActivity

_send = table_of(IssueSend)
_recipient = table_of(SendRecipient)
_activity = table_of(RecipientActivity)
WENT_OUT = (RecipientState.ACCEPTED.value, RecipientState.UNKNOWN.value)


def soft_bounce_reason(count: int, window: int) -> str:
    return f"{count} soft bounces in the last {window} issues (none delivered in between)"


def count_soft_failures(history: list[tuple[bool, bool]], window: int) -> int:
    """Soft failures in the newest `window` issues of `history` ((delivered, soft_failed)
    newest first), counted up to the newest delivery."""
    count = 0
    for delivered, soft_failed in history[:window]:
        if delivered:
            break
        count += soft_failed
    return count


def over_soft_limit(
    session: Session, subscriber_ids: Collection[int], settings: Settings
) -> dict[int, int]:
    """Subscriber id -> soft failures counted, for those at or over the limit."""
    window = settings.soft_bounce_window
    histories = _histories(session, subscriber_ids, window)
    counted = {
        subscriber_id: count_soft_failures(history, window)
        for subscriber_id, history in histories.items()
    }
    return {sid: n for sid, n in counted.items() if n >= settings.soft_bounce_limit}


def _histories(
    session: Session, subscriber_ids: Collection[int], window: int
) -> dict[int, list[tuple[bool, bool]]]:
    """Subscriber id -> (delivered, soft_failed) of the newest `window` issues sent to them,
    newest first."""
    connection = session.connection()
    sends = [
        int(issue_id)
        for (issue_id,) in connection.execute(
            select(_send.c.issue_id).order_by(_send.c.started_at.desc(), _send.c.issue_id.desc())
        )
    ]
    histories: dict[int, list[tuple[bool, bool]]] = {sid: [] for sid in subscriber_ids}
    waiting = set(subscriber_ids)
    page = max(window * 2, 10)
    for start in range(0, len(sends), page):
        if not waiting:
            break
        issues = sends[start : start + page]
        found: defaultdict[int, dict[int, tuple[bool, bool]]] = defaultdict(dict)
        for part in chunks(sorted(waiting)):
            rows = connection.execute(
                select(
                    _recipient.c.issue_id,
                    _recipient.c.subscriber_id,
                    _activity.c.delivery,
                    _activity.c.soft_failed,
                )
                .outerjoin(
                    _activity,
                    and_(
                        _activity.c.issue_id == _recipient.c.issue_id,
                        _activity.c.subscriber_id == _recipient.c.subscriber_id,
                    ),
                )
                .where(_recipient.c.issue_id.in_(issues))
                .where(_recipient.c.subscriber_id.in_(part))
                .where(_recipient.c.state.in_(WENT_OUT))
            )
            for issue_id, subscriber_id, delivery, soft_failed in rows:
                found[int(subscriber_id)][int(issue_id)] = (
                    delivery == Delivery.DELIVERED,
                    bool(soft_failed),
                )
        for subscriber_id, by_issue in found.items():
            history = histories[subscriber_id]
            history.extend(by_issue[i] for i in issues if i in by_issue)
            if len(history) >= window:
                waiting.discard(subscriber_id)
    return histories
