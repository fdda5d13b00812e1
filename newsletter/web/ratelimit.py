"""Rate limits on the sign-up form (per client address and for the whole process) and on
the desk's sign-in form (per client address).

The `limits` library counts in a moving window (no burst of twice the rate across a window
edge, as a fixed window allows), in memory: each app process counts for itself, so with
`newsletter serve --workers N` the overall rate is N times `NEWSLETTER_SIGNUP_LIMIT_TOTAL`.

The client is `request.client.host`, which uvicorn takes from `X-Forwarded-For` only when
the connection comes from an address in its `--forwarded-allow-ips` (the environment
variable `FORWARDED_ALLOW_IPS`; by default the loopback addresses, where a local proxy
runs). Anyone else's `X-Forwarded-For` is ignored, so a client cannot pick its own key.
An IPv6 client counts by its /64 network: one subscriber line gets a whole /64, and
counting single addresses would give its owner 2**64 allowances.

A refused post touches nothing: it is answered before the form's database session opens,
with 429, the friendly page and `Retry-After`.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from fastapi import Depends, FastAPI, Request, status
from fastapi.responses import Response
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from newsletter.core.settings import Settings
from newsletter.web.deps import get_services
from newsletter.web.presenter import Pages

NAMESPACE = "signup"
TOTAL = "total"


class TooManySignups(Exception):
    """A post over a limit; `retry_after` in whole seconds."""

    def __init__(self, retry_after: int, status_code: int = status.HTTP_429_TOO_MANY_REQUESTS):
        super().__init__(f"too many sign-ups: retry after {retry_after} s")
        self.retry_after = retry_after
        self.status_code = status_code


@lru_cache(maxsize=16)
def rates(text: str) -> tuple[RateLimitItem, ...]:
    """`5/minute;20/hour` as `limits` items; empty means none (settings checked the text)."""
    return tuple(parse_many(text)) if text.strip() else ()


def client_key(host: str | None) -> str:
    """What a client is counted by: its IPv4 address, or its IPv6 /64 network."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a trusted proxy sent something else: count by that text
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True)
class _Counter:
    item: RateLimitItem
    identifiers: tuple[str, ...]


def _signup_rates(settings: Settings) -> tuple[str, str]:
    return settings.signup_limit_per_client, settings.signup_limit_total


def _signin_rates(settings: Settings) -> tuple[str, str]:
    return settings.signin_limit_per_client, ""


class SignupLimits:
    """The counters of one app process for one form (the sign-up form by default; the
    desk's sign-in form is `sign_in_limits`). The rates are read from the settings at each
    post, so a test (or an operator's reload) that changes them is obeyed at once."""

    def __init__(
        self,
        settings: Settings,
        namespace: str = NAMESPACE,
        rates_of: Callable[[Settings], tuple[str, str]] = _signup_rates,
    ) -> None:
        self.settings = settings
        self.namespace = namespace
        self.rates_of = rates_of
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def _counters(self, client: str) -> list[_Counter]:
        per_client_text, total_text = self.rates_of(self.settings)
        per_client = rates(per_client_text)
        total = rates(total_text)
        return [_Counter(item, (self.namespace, "client", client)) for item in per_client] + [
            _Counter(item, (self.namespace, TOTAL)) for item in total
        ]

    def _wait(self, counter: _Counter) -> int:
        stats = self.limiter.get_window_stats(counter.item, *counter.identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def check(self, client: str) -> int | None:
        """Count one post of `client`: None when it may go ahead, else the seconds until it
        could. A refused post is not counted, so waiting is enough to get through."""
        counters = self._counters(client)
        over = [c for c in counters if not self.limiter.test(c.item, *c.identifiers)]
        if over:
            return max(self._wait(c) for c in over)
        for counter in counters:
            if not self.limiter.hit(counter.item, *counter.identifiers):  # a post in between
                return self._wait(counter)
        return None


def limits_of(app: FastAPI) -> SignupLimits:
    found: SignupLimits = app.state.signup_limits
    return found


def sign_in_limits(settings: Settings) -> SignupLimits:
    """The desk's sign-in form, counted per client (`NEWSLETTER_SIGNIN_LIMIT_PER_CLIENT`):
    the per-address lock stops guessing one account's password, this stops one client
    trying many addresses, and bounds the Argon2 checks one client makes the app run."""
    return SignupLimits(settings, "signin", _signin_rates)


def client_wait(request: Request, limits: SignupLimits) -> int | None:
    """Count one post of the request's client: None to go ahead, else seconds to wait."""
    return limits.check(client_key(request.client.host if request.client else None))


def in_words(seconds: int) -> str:
    """`Retry-After` for people: "in a minute", "in 3 minutes", "in 2 hours"."""
    return _in_words(seconds)


async def limit_signups(request: Request) -> None:
    """The form's first dependency: TooManySignups for a post over a limit. A coroutine:
    the counters are in memory, so FastAPI need not hand it to a worker thread."""
    wait = client_wait(request, limits_of(request.app))
    if wait is not None:
        raise TooManySignups(wait)


SignupLimit = Depends(limit_signups)


def busy_page(request: Request, error: TooManySignups) -> Response:
    """The friendly page for a post the service cannot take now: 429 over a rate, 503 when
    the queue is full; both say when to try again, in words and in `Retry-After`."""
    services = get_services(request)
    page = Pages(services.templates, services.settings, request).render(
        "subscribe_busy.html",
        status_code=error.status_code,
        wait=_in_words(error.retry_after),
        overall=error.status_code == status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    page.headers["Retry-After"] = str(error.retry_after)
    return page


async def _handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, TooManySignups)
    return busy_page(request, error)


def _in_words(seconds: int) -> str:
    if seconds < 60:
        return "in a minute"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"in {minutes} minutes" if minutes > 1 else "in a minute"
    hours = math.ceil(minutes / 60)
    return f"in {hours} hours" if hours > 1 else "in an hour"


def install(app: FastAPI, settings: Settings) -> None:
    app.state.signup_limits = SignupLimits(settings)
    app.state.signin_limits = sign_in_limits(settings)
    app.add_exception_handler(TooManySignups, _handler)
