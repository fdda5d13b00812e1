"""What each kind of event does to its recipient, gathered for one POST.

`apply_event` decides; `Effects` remembers what must be written (counter changes, clicks,
status changes, soft failures, batches to settle), so that the writes happen once per POST
in bulk, not once per event.

- processed, deferred, delivered: the delivery state (never to a lower rank) and
  delivery_at; the delivery counters move with it.
- bounced, hard: state bounced (hard), `bounced_hard`; the subscriber becomes bounced.
- bounced, soft (SendGrid's `blocked`): state bounced (soft), `bounced_soft`, soft_failed;
  the soft-bounce rule may then suppress the address.
- dropped: state dropped, `dropped`; soft_failed if the recipient was deferred; the
  subscriber's status by the drop's reason (see `suppression`).
- opened: first_open_at, `opened` (a machine's open: machine_open_at, `machine_opened`).
- clicked: first_click_at, `clicked`, the link counted once per recipient; a click on one
  of the service's own links counts nowhere.
- complained: complained_at, `complained`; the subscriber becomes complained.
- unsubscribed, group_unsubscribed: unsubscribed_at, `unsubscribed`; the subscriber too.
- group_resubscribed, unknown types: nothing.

Every stored event of a known send counts in `events`, and any event about a recipient of
an `unknown` batch settles that batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from newsletter.delivery.events import BounceKind, DeliveryEvent, EventType
from newsletter.sending.ledger import RecipientState
from newsletter.tracking.clicks import OwnLinks
from newsletter.tracking.match import IssueRef, Known
from newsletter.tracking.models import Delivery, Tally
from newsletter.tracking.states import DELIVERY_OF, first, mark_soft_failed, move_delivery
from newsletter.tracking.suppression import StatusRequest, reason_of, target_of
from newsletter.tracking.tallies import TallyChanges

ENGAGEMENT = frozenset({EventType.OPENED, EventType.CLICKED})
"""What `tracking = off` keeps out of the database."""

_FIRSTS: dict[EventType, tuple[str, Tally]] = {
    EventType.COMPLAINED: ("complained_at", Tally.COMPLAINED),
    EventType.UNSUBSCRIBED: ("unsubscribed_at", Tally.UNSUBSCRIBED),
    EventType.GROUP_UNSUBSCRIBED: ("unsubscribed_at", Tally.UNSUBSCRIBED),
}


@dataclass
class Effects:
    """What a POST's events call for, beyond their recipients' rows."""

    tallies: TallyChanges = field(default_factory=TallyChanges)
    clicks: list[tuple[int, int, str]] = field(default_factory=list)  # issue, subscriber, url
    requests: list[StatusRequest] = field(default_factory=list)
    soft_failed: set[int] = field(default_factory=set)  # subscribers newly soft-failed
    unknown_batches: set[tuple[int, int]] = field(default_factory=set)  # (issue id, seq)


def apply_event(
    effects: Effects,
    event: DeliveryEvent,
    issue: IssueRef,
    subscriber_id: int,
    known: Known,
    own: OwnLinks,
) -> None:
    """Apply one new event of a known recipient (see the module docstring)."""
    issue_id = issue.id
    activity = known.activity
    tallies = effects.tallies
    tallies.add(issue_id, Tally.EVENTS)
    named = event.batch_seq if event.batch_seq is not None else known.batch_seq
    if named != known.batch_seq or known.ledger_state == RecipientState.UNKNOWN:
        # The event proves the provider took the request of the batch it names (settled if
        # that batch is unknown), not a later one its recipient was moved to by a re-send.
        effects.unknown_batches.add((issue_id, named))
    kind = event.type
    at = event.occurred_at
    if kind in DELIVERY_OF:
        soft = (kind == EventType.BOUNCED and event.bounce_kind == BounceKind.SOFT) or (
            kind == EventType.DROPPED and activity.delivery == Delivery.DEFERRED
        )
        move_delivery(activity, DELIVERY_OF[kind], event.bounce_kind, at, issue_id, tallies)
        if soft and mark_soft_failed(activity):
            effects.soft_failed.add(subscriber_id)
    elif kind == EventType.OPENED:
        if event.machine_open:
            first(activity, "machine_open_at", at, issue_id, Tally.MACHINE_OPENED, tallies)
        else:
            first(activity, "first_open_at", at, issue_id, Tally.OPENED, tallies)
    elif kind == EventType.CLICKED:
        if event.url and own.prefix_of(event.url) is None:
            first(activity, "first_click_at", at, issue_id, Tally.CLICKED, tallies)
            effects.clicks.append((issue_id, subscriber_id, event.url))
    elif kind in _FIRSTS:
        column, tally = _FIRSTS[kind]
        first(activity, column, at, issue_id, tally, tallies)
    target = target_of(event)
    if target is not None:
        effects.requests.append(
            StatusRequest(subscriber_id, target, reason_of(event, issue.number))
        )
