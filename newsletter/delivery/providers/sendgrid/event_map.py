"""SendGrid's event webhook body, read into `DeliveryEvent`s: one table from SendGrid's event
names to `EventType`, one function per event.

The body is a JSON array of objects. Only its shape is required: an object missing a field,
or carrying one of the wrong type, gives an event with that field empty, and an event type
this code does not know is kept as `EventType.UNKNOWN` (so SendGrid, answered 2xx, does not
retry it for a day). The custom_args the request carried (`message.ISSUE_ARG` and its
neighbours) come back as top-level keys, as strings; anything but a clean decimal id in
range is None, which leaves the event unmatched rather than refused. Text is cleaned of
control characters and cut to the size of the column that keeps it.

An event without a usable `sg_event_id` gets one derived from its content (SHA-256 of its
canonical JSON): a retried POST carries the same bytes for it, so it is still stored once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from newsletter.core.text import without_controls
from newsletter.delivery.events import BounceKind, DeliveryEvent, EventType, WebhookMalformed
from newsletter.delivery.message import BATCH_ARG, ISSUE_ARG, SUBSCRIBER_ARG, TEST_ARG

EVENT_TYPES: Final[Mapping[str, EventType]] = {
    "processed": EventType.PROCESSED,
    "dropped": EventType.DROPPED,
    "delivered": EventType.DELIVERED,
    "deferred": EventType.DEFERRED,
    "bounce": EventType.BOUNCED,
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
    "spamreport": EventType.COMPLAINED,
    "unsubscribe": EventType.UNSUBSCRIBED,
    "group_unsubscribe": EventType.GROUP_UNSUBSCRIBED,
    "group_resubscribe": EventType.GROUP_RESUBSCRIBED,
}
"""SendGrid's `event` names; any other is `EventType.UNKNOWN`."""

SOFT_BOUNCE: Final = "blocked"
"""A bounce event's `type` for a soft bounce; `bounce` (or none, as older events) is hard."""

# The sizes of the columns these texts are kept in (`tracking.models.StoredEvent`, which
# this layer may not import; a test holds the two together).
EVENT_ID_MAX: Final = 100
PROVIDER_TYPE_MAX: Final = 50
REASON_MAX: Final = 500
CLASSIFICATION_MAX: Final = 100
STATUS_MAX: Final = 20
URL_MAX: Final = 2000
USER_AGENT_MAX: Final = 500
EMAIL_MAX: Final = 320  # the longest address (64 + @ + 255), as the subscriber table's
MESSAGE_ID_MAX: Final = 255  # not kept; SendGrid's are about 70 characters

ID_MAX: Final = 2**31 - 1
"""The largest id the tables hold (PostgreSQL's INTEGER)."""
_ID_DIGITS: Final = len(str(ID_MAX))
_LAST_SECOND: Final = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def parse_events(body: bytes, provider: str) -> list[DeliveryEvent]:
    """The events of a SendGrid webhook body, in order; WebhookMalformed, naming the item,
    for a body that is not a JSON array of objects."""
    items = _json_array(body)
    read = _Reading(provider, datetime.now(UTC))
    return [_event(item, index, read) for index, item in enumerate(items)]


class _Ids(dict[str, int | None]):
    """Custom args read once per POST: its events share an issue and a few batches."""

    def __missing__(self, value: str) -> int | None:
        found = self[value] = _id(value)
        return found


class _Times(dict[int, datetime]):
    """Unix times read once per POST: its events share seconds."""

    def __init__(self, received: datetime) -> None:
        super().__init__()
        self.received = received

    def __missing__(self, value: int) -> datetime:
        found = self[value] = _occurred_at(value, self.received)
        return found


class _Reading:
    """What one body's events share: the provider, the time it came, the values read."""

    def __init__(self, provider: str, received: datetime) -> None:
        self.provider = provider
        self.received = received
        self.ids = _Ids()
        self.times = _Times(received)


def _json_array(body: bytes) -> list[object]:
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise WebhookMalformed(f"the body is not JSON: {exc}") from None
    if not isinstance(data, list):
        raise WebhookMalformed(f"the body is a JSON {type(data).__name__}, not an array of events")
    return data


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _event(item: object, index: int, read: _Reading) -> DeliveryEvent:
    """One event. Written for speed (a POST holds a thousand): a field SendGrid left out
    costs one lookup, a custom arg or a time repeated in the body is read once
    (`_Reading`), and the event is built in one call, its fields in order."""
    if not isinstance(item, dict):
        raise WebhookMalformed(f"event {index}: a JSON {type(item).__name__}, not an object")
    get = item.get
    name = get("event")
    if isinstance(name, str):
        kind = EVENT_TYPES.get(name, EventType.UNKNOWN)
        provider_type = _text(name, PROVIDER_TYPE_MAX)
    else:
        kind, provider_type = EventType.UNKNOWN, ""
    bounce = None
    if kind is EventType.BOUNCED:
        bounce = BounceKind.SOFT if get("type") == SOFT_BOUNCE else BounceKind.HARD
    reason = get("reason")
    if kind is EventType.DEFERRED and not isinstance(reason, str):
        reason = get("response")  # a deferral gives the receiving server's answer
    test = get(TEST_ARG)
    ids, stamp = read.ids, get("timestamp")
    issue, subscriber, batch = get(ISSUE_ARG), get(SUBSCRIBER_ARG), get(BATCH_ARG)
    classification, status, url, agent = (
        get("bounce_classification"),
        get("status"),
        get("url"),
        get("useragent"),
    )
    return DeliveryEvent(
        read.provider,
        _event_id(item),
        kind,
        read.times[stamp] if type(stamp) is int else _occurred_at(stamp, read.received),
        _text(get("email"), EMAIL_MAX),
        ids[issue] if type(issue) is str else _id(issue),
        ids[subscriber] if type(subscriber) is str else _id(subscriber),
        ids[batch] if type(batch) is str else _id(batch),
        False if test is None else _flag(test),
        provider_type,
        bounce,
        "" if reason is None else _text(reason, REASON_MAX),
        "" if classification is None else _text(classification, CLASSIFICATION_MAX),
        "" if status is None else _text(status, STATUS_MAX),
        "" if url is None else _text(url, URL_MAX),
        kind is EventType.OPENED and _flag(get("sg_machine_open")),
        "" if agent is None else _text(agent, USER_AGENT_MAX),
        _text(get("sg_message_id"), MESSAGE_ID_MAX),
    )


def _event_id(item: dict[str, object]) -> str:
    """SendGrid's `sg_event_id` when it is one; otherwise one derived from the event's
    content, the same for the same event however often it is posted."""
    given = item.get("sg_event_id")
    if (
        isinstance(given, str)
        and 0 < len(given) <= EVENT_ID_MAX
        and given.isascii()
        and given.isprintable()
        and " " not in given
    ):
        return given  # printable ASCII without spaces: SendGrid's are base64
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _occurred_at(value: object, received: datetime) -> datetime:
    """The event's unix time (SendGrid sends an integer; a string of digits is read too);
    the time the POST was received when it gives none that can be read: one odd event must
    not make the whole POST a 400, which SendGrid would retry for a day and then drop."""
    if type(value) is int and 0 <= value <= _LAST_SECOND:
        return datetime.fromtimestamp(value, UTC)  # what SendGrid sends
    if isinstance(value, str) and 0 < len(value) <= 12 and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return received
    if not 0 <= value <= _LAST_SECOND:
        return received
    return datetime.fromtimestamp(value, UTC)


def _id(value: object) -> int | None:
    """A custom arg as an id: SendGrid echoes them as strings; an int is taken too."""
    if isinstance(value, str):
        # a clean decimal: ASCII digits, no sign, space or leading 0
        if not (0 < len(value) <= _ID_DIGITS and value.isascii() and value.isdigit()):
            return None
        if value[0] == "0":
            return None
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        return None
    return number if 1 <= number <= ID_MAX else None


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return value is True or (type(value) is int and value == 1)


def _text(value: object, limit: int) -> str:
    """Clean one line of the provider's text, cut to `limit` characters ("" if not text)."""
    if not isinstance(value, str):
        return ""
    if len(value) <= limit and value.isprintable() and value == value.strip() and "  " not in value:
        return value  # already one clean line (most are): what the cleaning would give
    return without_controls(value)[:limit].rstrip()
