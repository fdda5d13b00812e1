"""Delivery through SendGrid's v3 Mail Send API with the official `sendgrid` package.

The backend only sends: the body comes from `encoding` (checked against the limits before
anything goes out) and every failure is read by `outcomes.classify`. What is left here is
the lifetime of the things a send uses: one client per thread, and optionally processes
that build the request bodies on another core.

The package keeps one mutable dict of request headers per client and has no timeout of its
own, so each thread gets its own client (never `request_headers=`) and every call passes
`timeout=`.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Final

from python_http_client.exceptions import HTTPError

from newsletter.core.metrics import count
from newsletter.core.settings import Settings, SettingsError
from newsletter.delivery import (
    AmbiguousOutcome,
    Backend,
    DeliveryError,
    Message,
    PermanentFailure,
    PersonalizedBatch,
    Recipient,
)
from newsletter.delivery.providers.sendgrid.encoding import check_message, encode_request
from newsletter.delivery.providers.sendgrid.limits import MAX_PERSONALIZATIONS
from newsletter.delivery.providers.sendgrid.outcomes import classify

DEFAULT_HOST: Final = "https://api.sendgrid.com"
BUILD_PROCESS_MINIMUM: Final = 50_000
"""A send this big repays starting build processes (they take a moment and some memory)."""


def _ready() -> None:
    """Nothing: submitted once per build process so that it starts now."""


def _follow_parent(parent: int) -> None:
    """In a build process: exit once the sender is gone. A sender killed with -9 never says
    goodbye, and the pool's queues keep a build process waiting for work forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


class SendGridBackend(Backend):
    """One mail/send request per batch; safe to use from many sending threads at once."""

    name = "sendgrid"
    resend_safe = False  # a request whose answer was lost may have been accepted
    supports_sandbox = True  # mail_settings.sandbox_mode: validated, answered 200, not sent
    max_batch_size = MAX_PERSONALIZATIONS  # one recipient per personalization

    def __init__(
        self,
        api_key: str,
        host: str = DEFAULT_HOST,
        timeout: float = 30.0,
        *,
        build_processes: int | None = 0,
    ) -> None:
        if not api_key:
            raise SettingsError("SENDGRID_API_KEY must be set to send through SendGrid")
        self.api_key = api_key
        self.host = host.rstrip("/")
        self.timeout = timeout
        if build_processes is None:  # auto: one, if there is a core to put it on
            build_processes = 1 if (os.cpu_count() or 1) >= 2 else 0
        self.build_processes = build_processes
        self._local = threading.local()
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SendGridBackend:
        return cls(
            settings.sendgrid_api_key,
            settings.sendgrid_host,
            settings.sendgrid_timeout,
            build_processes=settings.send_build_processes,
        )

    def check_message(self, message: Message) -> None:
        """What `send_issue` checks once before a send: see `encoding.check_message`."""
        check_message(message)

    def prepare(self, recipients: int) -> None:
        """Before a send of about `recipients`: start the build processes if it is big
        enough to repay them, so that they start while the audience is being snapshotted."""
        if self.build_processes and recipients >= BUILD_PROCESS_MINIMUM:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ProcessPoolExecutor(
                        self.build_processes,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_follow_parent,
                        initargs=(os.getpid(),),
                    )
                    for _ in range(self.build_processes):
                        self._pool.submit(_ready)

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Send one request; returns its X-Message-Id ("" for a sandboxed request).

        Raises TransientFailure, PermanentFailure (LimitError before sending) or
        AmbiguousOutcome; see `classify`. Classified here, where it is known how long an
        ambiguous call waited; anything else that escapes is a bug (`as_failure` is the
        base's: it is not a delivery failure, and the batch's fate is unknown).
        """
        body = self._encode(message, recipients)
        started = time.monotonic()
        try:
            response = self._client().client.mail.send.post(request_body=body, timeout=self.timeout)
        except Exception as exc:
            _timed("answered" if isinstance(exc, HTTPError) else "failed", started)
            failure = classify(exc)
            if failure is None:
                raise
            if isinstance(failure, AmbiguousOutcome):
                waited = time.monotonic() - started
                failure = AmbiguousOutcome(f"{failure} (after {waited:.1f} s)")
            raise failure from exc
        _timed("answered", started)
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return str(message_id or "")

    def close(self) -> None:
        """Stop the build processes, if any were started."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    def _encode(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """The request body; built in a build process once `prepare` started them.

        Building (tokens and JSON, ~7 µs a recipient) holds the interpreter lock, which the
        sending threads and the ledger also need: elsewhere it runs on another core. Spawned,
        not forked, as this process has threads.
        """
        pool = self._pool
        if pool is None or not isinstance(recipients, PersonalizedBatch):
            return encode_request(message, recipients)
        batch = PersonalizedBatch(recipients.personalizer, list(recipients.rows))
        try:
            return pool.submit(encode_request, message, batch).result()
        except DeliveryError:
            raise
        except Exception as exc:  # the build process died: nothing was sent
            raise PermanentFailure(
                f"could not build the request: {type(exc).__name__}: {exc}", stops_send=True
            ) from exc

    def _client(self) -> Any:
        """This thread's client, made on first use.

        The package is imported here, not at the top: it costs ~25 ms, and every command
        that merely names the providers (the registry) would pay it, sending or not.
        """
        client = getattr(self._local, "client", None)
        if client is None:
            import sendgrid

            client = sendgrid.SendGridAPIClient(api_key=self.api_key, host=self.host)
            client.client.timeout = self.timeout
            # The body is JSON text already (`encode_request`): with a Content-Type other
            # than exactly "application/json" the package sends a str as UTF-8 instead of
            # serialising it again. This client is this thread's alone.
            client.client.request_headers["Content-Type"] = "application/json; charset=utf-8"
            self._local.client = client
        return client


def _timed(outcome: str, started: float) -> None:
    """The request's time in `newsletter_sendgrid_request_seconds` (never failing it)."""
    elapsed = time.monotonic() - started
    count(lambda m: m.sendgrid_request_seconds.labels(outcome).observe(elapsed))
