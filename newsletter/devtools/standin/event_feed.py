"""`EventFeed`: the stand-in's event webhook, switched on by `--events-to URL`. It owns the
key pair the events are signed with (the public key is printed for
`SENDGRID_WEBHOOK_PUBLIC_KEY`), makes the events of each accepted request (`events`) and
hands them to the posting thread (`webhook_poster`); it keeps what it made, for tests and
`GET /_standin/events`."""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from newsletter.devtools.standin.events import AcceptedRequest, Event, EventMaker, EventShares
from newsletter.devtools.standin.signing import WebhookSigner
from newsletter.devtools.standin.webhook_poster import PosterSettings, PostStats, WebhookPoster


class EventFeed:
    """Events for what the stand-in accepts, posted signed to `url`. Thread-safe."""

    def __init__(
        self,
        url: str,
        shares: EventShares | None = None,
        *,
        seed: int | str | None = None,
        poster: PosterSettings | None = None,
        keep: bool = True,
        log: Callable[[str], None] | None = None,
        signer: WebhookSigner | None = None,
    ) -> None:
        self.shares = shares or EventShares()
        self.seed = secrets.token_hex(8) if seed is None else str(seed)
        self.signer = signer or WebhookSigner()  # given: its key was handed out first
        self.maker = EventMaker(self.shares, self.seed)
        self.poster = WebhookPoster(
            url,
            self.signer,
            settings=poster,
            duplicates=self.shares.duplicates,
            seed=self.seed,
            log=log,
        )
        self.keep = keep
        self._lock = threading.Lock()
        self._made: list[Event] = []
        self._counts: Counter[str] = Counter()

    @property
    def url(self) -> str:
        return self.poster.url

    @property
    def public_key(self) -> str:
        """What `SENDGRID_WEBHOOK_PUBLIC_KEY` takes to check this feed's signatures."""
        return self.signer.public_key

    def start(self) -> None:
        self.poster.start()

    def stop(self) -> None:
        self.poster.stop()

    def accepted(self, body: dict[str, Any], message_id: str, accepted_at: float) -> None:
        """Make and queue the events of one accepted (not sandboxed) mail/send body."""
        html = ""
        for item in body.get("content") or ():
            if item["type"].strip().lower() == "text/html":
                html = item["value"]
        request = AcceptedRequest(
            message_id=message_id,
            accepted_at=accepted_at,
            categories=tuple(body.get("categories") or ()),
            top_custom_args=body.get("custom_args") or {},
            html=html,
            personalizations=body["personalizations"],
        )
        events = self.maker.events_for(request)
        with self._lock:
            if self.keep:
                self._made.extend(events)
            self._counts.update(event["event"] for event in events)
        self.poster.put(events)

    def made(self) -> list[Event]:
        """Every event made so far, in order (a copy); empty unless `keep`."""
        with self._lock:
            return list(self._made)

    def counts(self) -> dict[str, int]:
        """Events made so far by type."""
        with self._lock:
            return dict(self._counts)

    def post_stats(self) -> PostStats:
        return self.poster.stats()

    def wait_posted(self, timeout: float = 30.0) -> bool:
        """Wait until every event made is posted or given up; whether it happened in time."""
        return self.poster.wait_idle(timeout)

    def reset(self) -> None:
        """Forget the events made and the addresses remembered as suppressed."""
        self.maker.forget()
        with self._lock:
            self._made.clear()
            self._counts.clear()

    def as_json(self) -> dict[str, Any]:
        """What `GET /_standin/events` answers."""
        return {
            "url": self.url,
            "public_key": self.public_key,
            "seed": self.seed,
            "made": self.counts(),
            "post": self.post_stats().as_json(),
        }
