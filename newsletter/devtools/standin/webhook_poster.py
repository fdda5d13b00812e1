"""Posting events the way SendGrid's Event Webhook does: one thread, JSON arrays of up to
`batch_size` events or whatever gathered within `interval` seconds, each POST signed (a
fresh timestamp per attempt), a batch answered with anything but 2xx (or not answered)
tried again after a growing pause, and a share of events posted a second time in a later
batch with the same sg_event_id, as SendGrid occasionally does.

Bounded in every direction: a batch is given up after `max_attempts`, every pause is cut
short by `stop`, and `stop` waits at most `drain_seconds` for what is still queued.
"""

from __future__ import annotations

import ipaddress
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Final
from urllib.parse import urlsplit

from newsletter.devtools.standin.events import Event
from newsletter.devtools.standin.signing import WebhookSigner

USER_AGENT: Final = "SendGrid Event API (stand-in)"


@dataclass(frozen=True, slots=True)
class PosterSettings:
    batch_size: int = 1000
    interval: float = 1.0  # seconds an event may wait for its batch to fill
    max_attempts: int = 12  # per batch, over about 3.5 minutes; then it is given up
    backoff: float = 0.5  # first pause after a failure; doubled each time
    max_backoff: float = 30.0
    timeout: float = 10.0  # per POST
    drain_seconds: float = 3.0  # how long `stop` keeps posting what is queued

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ValueError("batch-size must be a positive integer")
        if isinstance(self.max_attempts, bool) or self.max_attempts < 1:
            raise ValueError("max-attempts must be a positive integer")
        for name in ("interval", "backoff", "max_backoff", "timeout", "drain_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', '-')} must not be negative")


@dataclass(frozen=True, slots=True)
class PostStats:
    """What the poster did so far."""

    queued: int = 0  # events handed to it (duplicates not counted)
    posted: int = 0  # events in POSTs answered 2xx (duplicates included)
    duplicates: int = 0  # second copies posted
    pending: int = 0  # waiting or in flight
    requests: int = 0  # POSTs tried
    failures: int = 0  # POSTs answered non-2xx or not at all
    given_up: int = 0  # events of batches given up after max_attempts (or at stop)

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def _bypasses_proxy(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookPoster:
    """The posting thread and its queue. `put` hands events over; `wait_idle` waits until
    every event handed over is posted or given up; `stop` ends the thread promptly."""

    def __init__(
        self,
        url: str,
        signer: WebhookSigner,
        *,
        settings: PosterSettings | None = None,
        duplicates: float = 0.0,
        seed: str = "",
        log: Callable[[str], None] | None = None,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"events-to must be an http(s) URL, not {url!r}")
        self.url = url
        self.signer = signer
        self.settings = settings or PosterSettings()
        self.duplicates = duplicates
        self.seed = seed
        self._log = log or (lambda line: None)
        handlers = [urllib.request.ProxyHandler({})] if _bypasses_proxy(url) else []
        self._opener = urllib.request.build_opener(*handlers)
        self._lock = threading.Condition()
        self._queue: deque[tuple[Event, bool]] = deque()  # (event, is a second copy)
        self._first_waiting: float | None = None
        self._in_flight = 0
        self._stats = PostStats()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped: threading.Thread | None = None  # the last thread stopped

    # -- lifetime

    def start(self) -> None:
        if self._thread is not None:
            return
        if self._stopped is not None:  # a POST it left in flight ends within its timeout
            self._stopped.join()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="standin-webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Post what is queued for up to `drain_seconds`, give up the rest, end the thread.

        Returns within `drain_seconds` (and a little): a POST already in flight is left to
        its own timeout on the daemon thread rather than waited for."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        thread.join(timeout=self.settings.drain_seconds + 0.5)
        self._thread, self._stopped = None, thread

    # -- the queue

    def put(self, events: Iterable[Event]) -> None:
        batch = list(events)
        if not batch:
            return
        with self._lock:
            if self._first_waiting is None:
                self._first_waiting = time.monotonic()
            self._queue.extend((event, False) for event in batch)
            self._bump(queued=len(batch))
            self._lock.notify_all()

    def stats(self) -> PostStats:
        with self._lock:
            pending = len(self._queue) + self._in_flight
            return PostStats(**{**asdict(self._stats), "pending": pending})

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight; whether that happened in time."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.1))
            return True

    def _bump(self, **deltas: int) -> None:
        """Replace the counters; the caller holds the lock."""
        current = asdict(self._stats)
        self._stats = PostStats(**{k: v + deltas.get(k, 0) for k, v in current.items()})

    # -- the thread

    def _run(self) -> None:
        drain_deadline: float | None = None
        while True:
            batch = self._next_batch()
            if self._stopping.is_set() and drain_deadline is None:
                drain_deadline = time.monotonic() + self.settings.drain_seconds
            if not batch:
                if self._stopping.is_set():
                    return
                continue
            if drain_deadline is not None and time.monotonic() >= drain_deadline:
                self._give_up(batch)
                continue
            self._post(batch, drain_deadline)

    def _next_batch(self) -> list[tuple[Event, bool]]:
        """Wait until a batch is due (full, or its first event waited `interval`), or the
        poster stops; take it out of the queue (marked in flight)."""
        size = self.settings.batch_size
        with self._lock:
            while not self._stopping.is_set():
                if len(self._queue) >= size:
                    break
                if self._queue and self._first_waiting is not None:
                    left = self._first_waiting + self.settings.interval - time.monotonic()
                    if left <= 0:
                        break
                    self._lock.wait(left)
                else:
                    self._lock.wait(0.5)
            batch = [self._queue.popleft() for _ in range(min(size, len(self._queue)))]
            self._first_waiting = time.monotonic() if self._queue else None
            self._in_flight = len(batch)
            return batch

    def _post(self, batch: list[tuple[Event, bool]], drain_deadline: float | None) -> None:
        """Post one batch until it is answered 2xx, given up, or the drain time is over."""
        body = json.dumps([event for event, _ in batch], separators=(",", ":")).encode()
        pause = self.settings.backoff
        for attempt in range(1, self.settings.max_attempts + 1):
            status = self._attempt(body, drain_deadline)
            with self._lock:
                self._bump(requests=1, failures=0 if 200 <= status < 300 else 1)
            if 200 <= status < 300:
                self._log(f"events POST {self.url} -> {status} ({len(batch)} events)")
                self._posted(batch)
                return
            self._log(f"events POST {self.url} -> {status or 'no answer'} (attempt {attempt})")
            if attempt == self.settings.max_attempts:
                break
            if drain_deadline is not None:
                pause = min(pause, max(0.0, drain_deadline - time.monotonic()))
                if pause <= 0:
                    break
                time.sleep(min(pause, 0.2))
            elif self._stopping.wait(pause):
                drain_deadline = time.monotonic() + self.settings.drain_seconds
            pause = min(pause * 2, self.settings.max_backoff)
        self._give_up(batch)

    def _give_up(self, batch: list[tuple[Event, bool]]) -> None:
        self._log(f"events: gave up a batch of {len(batch)}")
        with self._lock:
            self._bump(given_up=len(batch))
            self._in_flight = 0
            self._lock.notify_all()

    def _attempt(self, body: bytes, drain_deadline: float | None) -> int:
        """One signed POST; its status, 0 when there was no answer."""
        timeout = self.settings.timeout
        if drain_deadline is not None:
            timeout = max(0.1, min(timeout, drain_deadline - time.monotonic()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **self.signer.headers(body),
        }
        request = urllib.request.Request(  # noqa: S310 (http or https: checked in __init__)
            self.url, data=body, headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                answer.read()
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            refused.close()
            return int(refused.code)
        except (OSError, ValueError):
            return 0

    def _posted(self, batch: list[tuple[Event, bool]]) -> None:
        """Count a delivered batch; queue a second copy of some of its events."""
        copies = [(event, True) for event, copy in batch if not copy and self._duplicated(event)]
        with self._lock:
            seconds = sum(1 for _, copy in batch if copy)
            self._bump(posted=len(batch), duplicates=seconds)
            if copies and not self._stopping.is_set():
                self._queue.extend(copies)
                if self._first_waiting is None:
                    self._first_waiting = time.monotonic()
            self._in_flight = 0
            self._lock.notify_all()

    def _duplicated(self, event: Event) -> bool:
        if self.duplicates <= 0:
            return False
        key = f"{self.seed}|duplicate|{event['sg_event_id']}"
        return random.Random(key).random() < self.duplicates
