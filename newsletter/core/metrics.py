"""The service's own Prometheus metrics, defined once, and how a scrape is put together.

Two kinds of figure, kept apart on purpose because the service runs as many processes
(`serve --workers N`, the scheduler, `issue send`, `newsletter worker` on other machines):

- What the delivery ledger knows (recipients by outcome, batches by state and attempt) is
  read from the database at scrape time (`newsletter.analytics.ledger_metrics`): one answer
  whichever process, or machine, did the sending.
- What only a process sees as it happens (the time of each SendGrid request, webhook events
  taken and refused, sign-ups, votes, unsubscribes) is counted here, through
  prometheus_client's multiprocess mode when a directory for it is set
  (`PROMETHEUS_MULTIPROC_DIR`, `Settings.metrics_dir`): every process writes its own file
  there and a scrape adds them up, so `serve --workers 2` answers the same sums whichever
  worker takes the scrape. `newsletter serve` always uses such a directory (a private one of
  its own when none is set). Without one (tests, a single process) the figures are this
  process's.

prometheus_client picks its storage when it is first imported (it reads
`PROMETHEUS_MULTIPROC_DIR` from the environment itself), so nothing of the project imports
it before `metrics()` first runs: that call puts the configured directory (which may come
from `.env`) into the environment first, and `serve` does the same with its private one
(`share_directory`) before any worker starts. The files of processes that have ended stay
and keep counting in the sums, as counters should; the directory is emptied only when the
machine restarts (a tmpfs) or, for `serve`'s private one, when `serve` exits.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from newsletter.core.settings import SettingsError, get_settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.metrics_core import Metric

MULTIPROCESS_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's own variable (read by the package itself at import)."""

REJECT_REASONS: Final = ("signature", "malformed", "too_large", "not_configured")
"""Why a webhook POST was refused: bad or stale signature (403), a body that is not the
provider's events (400), over the size limit (413), no key configured (503)."""

LATENCY_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""Seconds; SendGrid answers in tenths of a second, a timeout is `sendgrid_timeout` (30)."""

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


@dataclass(frozen=True)
class Metrics:
    """The per-process metrics; `metrics()` makes them once per process."""

    registry: CollectorRegistry
    sendgrid_request_seconds: Histogram
    """Time of each mail/send request, labelled `answered` (any HTTP answer) or `failed`
    (no answer: timeout, connection refused or dropped)."""
    events_ingested: Counter
    """Webhook events taken (stored or found duplicate), by their normalised type."""
    events_rejected: Counter
    """Webhook POSTs refused, by `REJECT_REASONS`."""
    signups: Counter
    """Sign-up form posts queued for a confirmation email (the honeypot's are not)."""
    votes: Counter
    """Vote buttons that recorded a new vote or changed one."""
    unsubscribes: Counter
    """Addresses unsubscribed by their one-click link: a repeated POST for an address
    already out, and the sample subscriber's, are not counted."""


_made: Metrics | None = None
_making = threading.Lock()
_failing = False  # a metric failed once in this process (said once in the log)
log = logging.getLogger(__name__)


def count(action: Callable[[Metrics], object]) -> None:
    """Count through `action(metrics())`, never failing the work being counted: an
    unsubscribe, a vote or a SendGrid request must not be lost (or turned into a 500, or a
    batch of unknown fate) because a counter's file could not be written. The first
    failure in a process is logged; the figures of that process are then missing."""
    global _failing
    try:
        action(metrics())
    except Exception as exc:  # whatever it is, the counted work goes on
        if not _failing:
            _failing = True
            log.warning("metrics: this process cannot count (%s); /metrics misses its figures", exc)


def metrics() -> Metrics:
    """This process's metrics, made once, on first use: the sending threads reach here
    together, and two sets of counters writing the same file would each overwrite the
    other's increments."""
    global _made
    if _made is None:
        with _making:
            if _made is None:
                _made = _make()
    return _made


def _make() -> Metrics:
    """In the configured directory when there is one (`PROMETHEUS_MULTIPROC_DIR`, from the
    environment or `.env`), made if missing, so that a scheduler, a worker or an `issue
    send` of this machine counts where `serve`'s scrape reads."""
    configured = get_settings().metrics_dir
    if configured is not None:
        _use(configured)
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    made = Metrics(
        registry=registry,
        sendgrid_request_seconds=Histogram(
            "newsletter_sendgrid_request_seconds",
            "Seconds each SendGrid mail/send request took, by whether it was answered.",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        events_ingested=Counter(
            "newsletter_events_ingested",
            "Provider webhook events taken (stored or duplicate), by type.",
            ["type"],
            registry=registry,
        ),
        events_rejected=Counter(
            "newsletter_events_rejected",
            "Provider webhook POSTs refused, by reason.",
            ["reason"],
            registry=registry,
        ),
        signups=Counter(
            "newsletter_signups", "Sign-up form posts queued for confirmation.", registry=registry
        ),
        votes=Counter(
            "newsletter_votes", "Votes recorded or changed by a vote button.", registry=registry
        ),
        unsubscribes=Counter(
            "newsletter_unsubscribes",
            "Addresses unsubscribed by their one-click link.",
            registry=registry,
        ),
    )
    for reason in REJECT_REASONS:
        made.events_rejected.labels(reason)  # shown as 0 before the first refusal
    for outcome in ("answered", "failed"):
        made.sendgrid_request_seconds.labels(outcome)
    return made


def share_directory(directory: Path) -> None:
    """Make this process (and the processes it starts) count into `directory`, which is
    created if missing: `serve`'s private directory. Call before the first `metrics()`; a
    later call cannot move figures already kept in memory, so it refuses rather than lose
    them quietly."""
    if _made is not None:
        raise RuntimeError("metrics are already counted in memory; share the directory first")
    _use(directory)


def _use(directory: Path) -> None:
    """Count into `directory`: made if missing, and refused in one line (SettingsError)
    when this process cannot write there (a read-only /run under systemd's
    ProtectSystem=strict, a folder of another user)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"{MULTIPROCESS_VARIABLE}: cannot make {directory} ({exc.strerror or exc})"
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SettingsError(f"{MULTIPROCESS_VARIABLE}: {directory} is not writable by this process")
    os.environ[MULTIPROCESS_VARIABLE] = str(directory)  # read by prometheus_client itself


def scrape(directory: Path | None, *collectors: Collector) -> bytes:
    """The exposition text of `scrape_registry`."""
    from prometheus_client import generate_latest

    return bytes(generate_latest(scrape_registry(directory, *collectors)))


def scrape_registry(directory: Path | None, *collectors: Collector) -> CollectorRegistry:
    """What a scrape shows: the per-process metrics of every process writing in
    `directory` (or this process's alone without one), then `collectors` (the ledger's).
    Files are read at each collection, so one registry serves every scrape."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    own = metrics()  # in a shared directory: this process's file exists, its zeros show
    if directory is not None:
        MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    else:
        registry.register(own.registry)
    for collector in collectors:
        registry.register(collector)
    return registry
