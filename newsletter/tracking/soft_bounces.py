"""Repeated soft bounces: an address that soft-bounced in `soft_bounce_limit` of the last
`soft_bounce_window` issues sent to it, counted since its last delivery, is suppressed as
bounced.

Why: one blocked message says little (a full mailbox, a provider's bad day), but an address
that keeps failing is damaging the sender's reputation. A delivery in between resets the
count, so an address with occasional trouble is kept. So does an operator lifting the
address's suppression (a status change out of bounced or complained): only issues sent since
count, so the soft bounces that led to the suppression do not suppress it again.

"The issues sent to it" are its `send_recipient` rows that went out (accepted, or unknown:
possibly sent), newest first by `issue_send.started_at`. `send_recipient` is keyed by
(issue, subscriber) with no index by subscriber alone, so the lookup walks the few most
recent sends (a small table: one row per issue) and asks for the subscribers by primary
key in each, a page of issues at a time, never scanning the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlmodel import Session

from newsletter.core.settings import Settings
from newsletter.core.sql import table_of
from newsletter.sending.ledger import IssueSend, RecipientState, SendRecipient
from newsletter.tracking.match import chunks
from newsletter.tracking.models import Delivery, RecipientActivity
from subscribers.models import SUPPRESSED, StatusChange

_send = table_of(IssueSend)
_recipient = table_of(SendRecipient)
_activity = table_of(RecipientActivity)
_change = table_of(StatusChange)
_SUPPRESSED = sorted(status.value for status in SUPPRESSED)
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
    """Subscriber id -> (delivered, soft_failed) of the newest `window` issues sent to them
    since their suppression was last lifted, newest first."""
    connection = session.connection()
    started = {
        int(issue_id): at
        for issue_id, at in connection.execute(
            select(_send.c.issue_id, _send.c.started_at).order_by(
                _send.c.started_at.desc(), _send.c.issue_id.desc()
            )
        )
    }
    sends = list(started)
    since = _lifted_at(session, subscriber_ids)
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
            after = since.get(subscriber_id)
            history.extend(
                by_issue[i]
                for i in issues
                if i in by_issue and (after is None or started[i] >= after)
            )
            if len(history) >= window or (after is not None and started[issues[-1]] < after):
                waiting.discard(subscriber_id)  # enough, or the rest predates the change
    return histories


def _lifted_at(session: Session, subscriber_ids: Collection[int]) -> dict[int, datetime]:
    """Subscriber id -> when their suppression was last lifted, for those ever lifted
    (status_change by subscriber: its index)."""
    lifted: dict[int, datetime] = {}
    for part in chunks(sorted(subscriber_ids)):
        rows = session.connection().execute(
            select(_change.c.subscriber_id, func.max(_change.c.at))
            .where(_change.c.subscriber_id.in_(part))
            .where(_change.c.from_status.in_(_SUPPRESSED))
            .where(_change.c.to_status.not_in(_SUPPRESSED))
            .group_by(_change.c.subscriber_id)
        )
        lifted.update({int(sid): at for sid, at in rows})
    return lifted
