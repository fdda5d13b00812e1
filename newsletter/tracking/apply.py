"""Applying a POST's events: match them to sends, store each once, apply the new ones.

The order of the steps is the locking order, the same in every POST, so concurrent POSTs
on PostgreSQL wait for each other instead of deadlocking: first the rows of the issues the
events name (a no-op UPDATE, sorted by id; on SQLite the transaction's BEGIN IMMEDIATE
already serialises writers), then the events' unique keys (sorted), then recipients'
rows, links, batches, subscribers and counters, each in sorted order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.core.clock import utcnow
from newsletter.core.database import is_sqlite, session_scope
from newsletter.core.group_commit import commit_group
from newsletter.core.settings import Settings
from newsletter.delivery.events import DeliveryEvent, EventType
from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.tracking.clicks import OwnLinks, write_clicks
from newsletter.tracking.driver import Driver
from newsletter.tracking.match import (
    Known,
    issue_refs,
    issues_by_number,
    known_recipients,
    lock_subscribers,
    same_address,
)
from newsletter.tracking.pause import pause_if_needed
from newsletter.tracking.rules import ENGAGEMENT, Effects, apply_event
from newsletter.tracking.settlement import settle_batches
from newsletter.tracking.soft_bounces import over_soft_limit, soft_bounce_reason
from newsletter.tracking.states import write_activity
from newsletter.tracking.store import event_row, store_new, unique_events
from newsletter.tracking.suppression import StatusRequest, change_statuses
from subscribers.models import Status

ANY_STATUS = frozenset(IssueStatus)


@dataclass
class Applied:
    """What one POST's events came to."""

    received: int = 0
    stored: int = 0  # new events (the others were duplicates)
    duplicates: int = 0
    unmatched: int = 0  # stored, but naming no send we know (or of a type we do not know)
    settled: int = 0  # recipients of unknown batches now known accepted
    suppressed: list[int] = field(default_factory=list)  # subscriber ids suppressed now
    unsubscribed: list[int] = field(default_factory=list)
    paused: list[int] = field(default_factory=list)  # issue numbers paused for deliverability
    untracked: int = 0  # opens and clicks left out because tracking is off


def _candidate(event: DeliveryEvent) -> bool:
    """Whether the event may name a send of ours (a test send's never does)."""
    return not event.test and event.issue_number is not None and event.subscriber_id is not None


_DECIDING = frozenset(
    {
        EventType.BOUNCED,
        EventType.DROPPED,
        EventType.COMPLAINED,
        EventType.UNSUBSCRIBED,
        EventType.GROUP_UNSUBSCRIBED,
    }
)
"""The types that may change a subscriber's status (directly or by the soft-bounce rule)."""


def _decides(event: DeliveryEvent) -> bool:
    return event.type in _DECIDING


def _impersonal(event: DeliveryEvent) -> DeliveryEvent:
    """An event that matches no recipient keeps no text a person could be found by (a
    bounce's reason quotes the address; a user agent, a URL with a token): the foreign key
    that erases a forgotten subscriber's events cannot reach a row that names nobody."""
    if event.reason or event.user_agent or event.url:
        return event._replace(reason="", user_agent="", url="")
    return event


def _batch_of(event: DeliveryEvent, recipient: Known) -> int:
    """The batch whose request the event is about: the one its custom args name (a re-send
    moves recipients to a batch of its own, and a late event of the first request names the
    first), else the recipient's."""
    return event.batch_seq if event.batch_seq is not None else recipient.batch_seq


def apply_events(
    session: Session, events: Sequence[DeliveryEvent], settings: Settings, *, now: datetime
) -> Applied:
    """Apply `events` inside the caller's transaction: drop repeats within the POST (and,
    with tracking off, opens and clicks), lock the issues they name, read the recipients
    they name, store every event (only the new ones are applied), then write what the new
    ones call for: recipients' rows, clicks, settled batches, status changes (the
    soft-bounce rule included), counters, and a deliverability pause."""
    applied = Applied(received=len(events))
    by_key = unique_events(events)
    if settings.tracking == "off":
        kept = {key: event for key, event in by_key.items() if event.type not in ENGAGEMENT}
        applied.untracked = len(by_key) - len(kept)
        by_key = kept
    keys, unique = list(by_key), list(by_key.values())
    by_number = issues_by_number(
        session, {e.issue_number for e in unique if _candidate(e) and e.issue_number is not None}
    )
    for issue_id in sorted(set(by_number.values())):
        lifecycle.lock_while(session, issue_id, ANY_STATUS)
    issues = issue_refs(session, by_number.values())
    wanted: defaultdict[int, set[int]] = defaultdict(set)
    pairs: list[tuple[int, int] | None] = []
    for event in unique:
        named = by_number.get(event.issue_number) if event.issue_number is not None else None
        named = named if _candidate(event) else None
        if named is not None and event.subscriber_id is not None:
            wanted[named].add(event.subscriber_id)
            pairs.append((named, event.subscriber_id))
        else:
            pairs.append(None)
    lock_subscribers(
        session,
        {pair[1] for pair, event in zip(pairs, unique, strict=True) if pair and _decides(event)},
    )
    driver = Driver(session)
    known = known_recipients(driver, wanted)
    own = OwnLinks(settings.site_url)

    rows = []
    received_at = driver.time(now)
    for index, (key, event, pair) in enumerate(zip(keys, unique, pairs, strict=True)):
        recipient = known.get(pair) if pair is not None else None
        if recipient is not None and not same_address(event.email, recipient):
            recipient = pairs[index] = None  # about someone else's address: not theirs
        if recipient is None:
            event = _impersonal(event)  # nobody's: nothing a person could be known by
        rows.append(
            event_row(
                driver,
                key,
                event,
                received_at=received_at,
                issue_id=pair[0] if pair and recipient else None,
                subscriber_id=pair[1] if pair and recipient else None,
                batch_seq=_batch_of(event, recipient) if recipient else None,
                url=(own.prefix_of(event.url) or event.url) if event.url else "",
            )
        )
    new = store_new(driver, rows)
    applied.stored = len(new)
    applied.duplicates = applied.received - applied.untracked - applied.stored

    effects = Effects()
    fresh = [
        (event, pair) for key, event, pair in zip(keys, unique, pairs, strict=True) if key in new
    ]
    fresh.sort(key=lambda item: item[0].occurred_at)
    touched: set[int] = set()
    for event, pair in fresh:
        recipient = known.get(pair) if pair is not None else None
        if pair is None or recipient is None:
            applied.unmatched += 1
            continue
        apply_event(effects, event, issues[pair[0]], pair[1], recipient, own)
        touched.add(pair[0])
        if event.type == EventType.UNKNOWN:
            applied.unmatched += 1  # kept, with its ids, and changes nothing

    write_activity(driver, ((i, s, r.activity) for (i, s), r in known.items()))
    write_clicks(session, effects.clicks)
    applied.settled = settle_batches(session, effects.unknown_batches, issues, effects.tallies)
    requests = list(effects.requests)
    for subscriber_id, count in sorted(
        over_soft_limit(session, effects.soft_failed, settings).items()
    ):
        reason = soft_bounce_reason(count, settings.soft_bounce_window)
        requests.append(StatusRequest(subscriber_id, Status.BOUNCED, reason))
    applied.suppressed, applied.unsubscribed = change_statuses(session, requests, now=now)
    effects.tallies.write(session)
    applied.paused = pause_if_needed(session, touched, issues, settings)
    return applied


def ingest(engine: Engine, settings: Settings, events: Sequence[DeliveryEvent]) -> Applied:
    """Apply `events` all or nothing: on PostgreSQL in a transaction of their own; on
    SQLite, whose writers take turns anyway, in a savepoint of a transaction shared with
    the POSTs that arrived meanwhile (`group_commit`: one commit for several POSTs)."""

    def work(session: Session) -> Applied:
        return apply_events(session, events, settings, now=utcnow())

    if is_sqlite(engine):
        return commit_group(engine).run(work)
    with session_scope(engine, immediate=True) as session:
        return work(session)
