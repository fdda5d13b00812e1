"""The events SendGrid would post about what the stand-in accepted, one recipient at a time.

Each recipient meets one fate, drawn from `EventShares` with a random generator seeded by
the run's seed and the address alone, so a seeded run is reproducible whatever order the
requests arrive in (and an address meets the same fate on every send of one run). The
events follow SendGrid's order for one message: processed, (deferred,) then exactly one of
delivered / bounce / dropped (or nothing more: `processed_only`), then open, click and
spamreport for a delivered one. Timestamps are the request's time plus a second or so per
step (SendGrid's own spread, minutes to days, would only slow a local run down).

Field names and values follow SendGrid's Event Webhook reference: `email`, `timestamp`
(unix seconds), `event`, `sg_event_id` (unique, base64 like SendGrid's), `sg_message_id`
(the request's X-Message-Id, a dot, a per-recipient suffix), `smtp-id`, `category`, and the
request's custom_args merged with the personalization's as top-level keys. Like SendGrid, the
stand-in remembers the addresses that hard-bounced or reported spam and drops later mail to
them ("Bounced Address", "Spam Reporting Address").
"""

from __future__ import annotations

import base64
import random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, Final

from newsletter.devtools.standin.click_links import click_candidates, pick_click_url

Event = dict[str, Any]

# What the receiving servers and mail clients say, in SendGrid's words.
HARD_BOUNCE: Final = {
    "type": "bounce",
    "status": "5.1.1",
    "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
    "bounce_classification": "Invalid Address",
}
SOFT_BOUNCE: Final = {
    "type": "blocked",
    "status": "5.7.1",
    "reason": "554 5.7.1 Service unavailable; client host blocked using a reputation list",
    "bounce_classification": "Reputation",
}
DROPPED_REASON: Final = "Bounced Address"
SPAM_DROPPED_REASON: Final = "Spam Reporting Address"
DEFERRED_RESPONSE: Final = "421 4.7.0 Try again later, closing connection."
DELIVERED_RESPONSE: Final = "250 2.0.0 OK"
SENDING_IP: Final = "149.72.0.10"
READER_IP: Final = "203.0.113.7"  # TEST-NET-3: no real reader
READER_AGENT: Final = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
MACHINE_AGENT: Final = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15"


def _share(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a share between 0 and 1, not {value!r}")


@dataclass(frozen=True, slots=True)
class EventShares:
    """How often each thing happens. The four outcome shares are of every recipient (their
    sum at most 1; the rest are delivered); `deferrals` is of the recipients not dropped
    (one to three `deferred` before their outcome); `spam_reports` and `opens` are of the
    delivered, `machine_opens` and `clicks` of the opens. `duplicates` is of the events
    posted: each such event is posted a second time in a later batch, same sg_event_id."""

    hard_bounces: float = 0.01
    soft_bounces: float = 0.005
    drops: float = 0.0
    processed_only: float = 0.0
    deferrals: float = 0.02
    spam_reports: float = 0.001
    opens: float = 0.4
    machine_opens: float = 0.3
    clicks: float = 0.2
    duplicates: float = 0.01

    def __post_init__(self) -> None:
        for item in fields(self):
            _share(item.name.replace("_", "-"), getattr(self, item.name))
        outcomes = self.hard_bounces + self.soft_bounces + self.drops + self.processed_only
        if outcomes > 1 + 1e-9:
            raise ValueError(
                "hard-bounces + soft-bounces + drops + processed-only must be at most 1, "
                f"not {outcomes:g}"
            )


@dataclass(frozen=True, slots=True)
class Fate:
    """What happens to one recipient's copy."""

    outcome: str  # "delivered", "hard", "soft", "dropped", "processed"
    deferrals: int = 0
    opened: bool = False
    machine_open: bool = False
    clicked: bool = False
    spam: bool = False


def draw_fate(shares: EventShares, seed: str, email: str) -> Fate:
    """The fate of `email` under `seed`: the same arguments always give the same fate."""
    rng = random.Random(f"{seed}|{email}")
    roll = rng.random()
    outcome = "delivered"
    for name, share in (
        ("hard", shares.hard_bounces),
        ("soft", shares.soft_bounces),
        ("dropped", shares.drops),
        ("processed", shares.processed_only),
    ):
        if roll < share:
            outcome = name
            break
        roll -= share
    deferrals = 0
    if outcome != "dropped" and rng.random() < shares.deferrals:
        deferrals = rng.randint(1, 3)
    if outcome != "delivered":
        return Fate(outcome, deferrals)
    opened = rng.random() < shares.opens
    machine = opened and rng.random() < shares.machine_opens
    # A machine's open is a prefetch: nobody read the email, so nobody clicks (the draw is
    # made all the same, so a seed gives every address the fate it gave before).
    clicked = opened and rng.random() < shares.clicks and not machine
    spam = rng.random() < shares.spam_reports
    return Fate("delivered", deferrals, opened, machine, clicked, spam)


def event_id(kind: str, message_id: str, sequence: int) -> str:
    """A unique sg_event_id in SendGrid's style: base64 of the kind, the recipient's message
    id and the event's place among that recipient's events."""
    raw = f"{kind}-{sequence}-{message_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class AcceptedRequest:
    """What the events of one accepted mail/send request are made from."""

    message_id: str  # the X-Message-Id answered
    accepted_at: float  # unix seconds
    categories: tuple[str, ...]
    top_custom_args: Mapping[str, str]
    html: str
    personalizations: Sequence[Mapping[str, Any]]  # as validated


class EventMaker:
    """Turns accepted requests into events, remembering (as SendGrid does) the addresses
    that hard-bounced or reported spam, whose later mail it drops. Thread-safe."""

    def __init__(self, shares: EventShares, seed: str) -> None:
        self.shares = shares
        self.seed = seed
        self._lock = threading.Lock()
        self._suppressed: dict[str, str] = {}  # address -> the dropped reason

    def forget(self) -> None:
        """Forget the remembered suppressions (the stand-in's reset)."""
        with self._lock:
            self._suppressed.clear()

    def events_for(self, request: AcceptedRequest) -> list[Event]:
        """Every event of every recipient of `request`, each recipient's in order."""
        candidates = click_candidates(request.html) if request.html else []
        made: list[Event] = []
        index = 0
        for personalization in request.personalizations:
            custom = {**request.top_custom_args, **(personalization.get("custom_args") or {})}
            substitutions: Mapping[str, str] = personalization.get("substitutions") or {}
            for email in _addresses(personalization):
                common = self._common(request, custom, email, index)
                key = f"{self.seed}|click|{email.lower()}"
                click_url = partial(pick_click_url, candidates, substitutions, key)
                made.extend(self._recipient_events(request, common, email, click_url))
                index += 1
        return made

    def _common(
        self, request: AcceptedRequest, custom: Mapping[str, str], email: str, index: int
    ) -> Event:
        stamp = int(request.accepted_at)
        message_id = f"{request.message_id}.recvd-standin-1-{stamp:X}-{index}.0"
        common: Event = dict(custom)  # custom args first: SendGrid's own keys win
        common.update(
            email=email,
            sg_message_id=message_id,
            **{"smtp-id": f"<{request.message_id}@standin.local>"},
        )
        if request.categories:
            cats = request.categories
            common["category"] = cats[0] if len(cats) == 1 else list(cats)
        return common

    def _recipient_events(
        self,
        request: AcceptedRequest,
        common: Event,
        email: str,
        click_url: Callable[[], str | None],
    ) -> Iterator[Event]:
        """One recipient's events in SendGrid's order; `click_url` is asked only for a
        click (it substitutes the recipient's links: too dear to do for everyone)."""
        base = request.accepted_at
        message_id = common["sg_message_id"]
        sequence = 0

        def event(kind: str, offset: float, **extra: Any) -> Event:
            nonlocal sequence
            made = dict(common, event=kind, timestamp=int(base + offset), **extra)
            made["sg_event_id"] = event_id(kind, message_id, sequence)
            sequence += 1
            return made

        yield event("processed", 0)
        with self._lock:
            remembered = self._suppressed.get(email.lower())
        fate = draw_fate(self.shares, self.seed, email.lower())
        if remembered is not None:
            yield event("dropped", 0, reason=remembered)
            return
        if fate.outcome == "dropped":
            yield event("dropped", 0, reason=DROPPED_REASON)
            return
        for attempt in range(1, fate.deferrals + 1):
            yield event("deferred", attempt, response=DEFERRED_RESPONSE, attempt=str(attempt))
        later = fate.deferrals + 1
        if fate.outcome == "processed":
            return
        if fate.outcome in ("hard", "soft"):
            details = HARD_BOUNCE if fate.outcome == "hard" else SOFT_BOUNCE
            yield event("bounce", later, tls=1, **details)
            if fate.outcome == "hard":
                self._remember(email, DROPPED_REASON)
            return
        yield event("delivered", later, response=DELIVERED_RESPONSE, ip=SENDING_IP, tls=1)
        if fate.opened:
            agent = MACHINE_AGENT if fate.machine_open else READER_AGENT
            yield event(
                "open",
                later + 1,
                sg_machine_open=fate.machine_open,
                useragent=agent,
                ip=READER_IP,
            )
            url = click_url() if fate.clicked else None
            if url is not None:
                yield event("click", later + 2, url=url, useragent=agent, ip=READER_IP)
        if fate.spam:
            yield event("spamreport", later + 3)
            self._remember(email, SPAM_DROPPED_REASON)

    def _remember(self, email: str, reason: str) -> None:
        with self._lock:
            self._suppressed[email.lower()] = reason


def _addresses(personalization: Mapping[str, Any]) -> Iterator[str]:
    """Every recipient of a personalization (to, cc, bcc): SendGrid reports each."""
    for key in ("to", "cc", "bcc"):
        for item in personalization.get(key) or ():
            yield str(item["email"])
