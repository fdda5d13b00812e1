"""When to try a batch again: one policy for the send run and the dry run alike.

Exponential backoff with jitter spreads the retries of many workers (and of several
senders) so they do not hit the provider in step; a provider that names its own retry
time (a 429's reset) is believed, within the cap, with a little jitter on top.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from newsletter.core.settings import Settings
from newsletter.delivery import TransientFailure


@dataclass(frozen=True)
class RetryPolicy:
    base: float  # seconds before the first retry
    cap: float  # no wait is longer
    attempts: int  # tries a batch gets in one run (NEWSLETTER_SEND_MAX_ATTEMPTS)

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.send_retry_base, settings.send_retry_max, settings.send_max_attempts)

    def backoff(self, tries: int) -> float:
        """After `tries` failed tries: base * 2^(tries-1), capped, times 0.5..1."""
        delay: float = min(self.cap, self.base * 2.0 ** max(0, tries - 1))
        return delay * random.uniform(0.5, 1.0)

    def delay(self, failure: TransientFailure, tries: int, now: float) -> float:
        """Seconds to wait after `failure`, the batch's `tries`-th failed try."""
        if failure.retry_at is not None:
            wait = min(max(failure.retry_at - now, 0.0), self.cap)
            return wait + random.uniform(0, self.base / 4)
        return self.backoff(tries)

    def gives_up(self, tries: int) -> bool:
        """Whether a batch that failed `tries` times in this run is out of attempts."""
        return tries >= self.attempts
