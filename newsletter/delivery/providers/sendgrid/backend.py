"""Delivery through SendGrid's v3 Mail Send API with the official `sendgrid` package.

One request carries up to 1,000 personalizations, one recipient each: the rendered HTML and
text travel once per request and each recipient's links arrive as `substitutions`. The body
is checked against SendGrid's documented limits before it is sent: a request SendGrid would
refuse is refused here (`LimitError`), with the reason, and nothing goes out.

Two ways to the same JSON: `build_body` makes a plain dict from any `Recipient`s (the
package's `Mail` helper would prepend personalizations, O(n) each); for the sender's
`PersonalizedBatch`, `encode_request` lays the text out directly from the rows and tokens,
which at a million recipients saves more time than everything else put together (a test
holds the two equal). Optionally the building runs in separate processes.

Every way a request can end is classified (see `classify`), because what the sender may do
next depends on it: retry (certainly not accepted), give up on the batch (refused), stop the
whole send (the key or the sender identity is refused), or record it as `unknown` (it may
have been accepted: a timeout or a connection dropped after the body went out).

The package keeps one mutable dict of request headers per client and has no timeout of its
own, so each thread gets its own client (never `request_headers=`) and every call passes
`timeout=`.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import socket
import threading
import time
import urllib.error
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import sendgrid
from python_http_client import exceptions as http_errors

from newsletter.core.settings import Settings, SettingsError
from newsletter.delivery import (
    AmbiguousOutcome,
    Backend,
    DeliveryError,
    LinkScheme,
    Message,
    PermanentFailure,
    PersonalizedBatch,
    Recipient,
    TransientFailure,
    placeholders,
)
from newsletter.delivery.headers import ONE_CLICK
from newsletter.delivery.providers.sendgrid.limits import (
    MAX_BODY_BYTES,
    MAX_CATEGORIES,
    MAX_CATEGORY_CHARS,
    MAX_MAP_BYTES,
    MAX_PERSONALIZATIONS,
    RESERVED_HEADERS,
)

DEFAULT_HOST = "https://api.sendgrid.com"
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
STOPPING_STATUSES = frozenset({401, 403})


class LimitError(PermanentFailure):
    """The request breaks a documented SendGrid limit; it was not sent."""


# ----------------------------------------------------------------------------- limits


def _json_bytes(value: Mapping[str, str]) -> int:
    """Compact UTF-8 JSON size of a string map, computed only when it could matter.

    A character costs 1 to 6 bytes in JSON, so a map is decided from its length alone
    unless it is near the limit (this runs once per recipient).
    """
    chars = sum(len(k) + len(v) + 6 for k, v in value.items()) + 1
    if chars * 6 <= MAX_MAP_BYTES or chars > MAX_MAP_BYTES:
        return chars
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _check_headers(headers: Mapping[str, str], where: str) -> None:
    for name, value in headers.items():
        if name.lower() in RESERVED_HEADERS:
            raise LimitError(f"{where}: the header {name} is reserved by SendGrid")
        if not isinstance(value, str):
            raise LimitError(f"{where}: the header {name} must be a string")


def check_message(message: Message) -> None:
    """The parts of a request that are the same for every batch; LimitError if SendGrid
    would refuse them (so every batch would fail: the send stops instead)."""
    categories = message.categories
    if len(categories) > MAX_CATEGORIES:
        raise LimitError(
            f"{len(categories)} categories; SendGrid allows {MAX_CATEGORIES}", stops_send=True
        )
    if len(set(categories)) != len(categories):
        raise LimitError(f"categories must be unique: {list(categories)}", stops_send=True)
    for category in categories:
        if not category.isascii() or len(category) > MAX_CATEGORY_CHARS or not category:
            raise LimitError(
                f"category {category!r} must be 1 to 255 ASCII characters", stops_send=True
            )
    try:
        _check_headers(_message_headers(message), "message")
    except LimitError as exc:
        raise LimitError(str(exc), stops_send=True) from None
    if not message.text or not message.html:
        raise LimitError("the message needs both a text and an HTML part", stops_send=True)
    if not message.subject:
        raise LimitError("the message has no subject", stops_send=True)
    if _json_bytes(message.custom_args) > MAX_MAP_BYTES:
        raise LimitError("the message's custom_args exceed 10,000 bytes", stops_send=True)


def _message_headers(message: Message) -> dict[str, str]:
    headers = dict(message.headers)
    if message.list_id:
        headers["List-Id"] = message.list_id
    return headers


def _display_name(name: str | None) -> str | None:
    """SendGrid refuses a recipient name containing ';' or ','; they become spaces."""
    if not name:
        return None
    if ";" in name or "," in name:
        name = " ".join(name.replace(";", " ").replace(",", " ").split())
    return name or None


def _body_without_personalizations(message: Message) -> dict[str, Any]:
    """Everything in a request but the recipients: the same for every batch but the
    batch's custom_args."""
    body: dict[str, Any] = {
        "from": {"email": message.from_email, "name": message.from_name}
        if message.from_name
        else {"email": message.from_email},
        "subject": message.subject,
        "content": [  # text/plain first, or SendGrid answers 400
            {"type": "text/plain", "value": message.text},
            {"type": "text/html", "value": message.html},
        ],
    }
    headers = _message_headers(message)
    if headers:
        body["headers"] = headers
    if message.categories:
        body["categories"] = list(message.categories)
    if message.custom_args:
        body["custom_args"] = message.custom_args
    if message.sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body


def build_body(message: Message, recipients: Sequence[Recipient]) -> dict[str, Any]:
    """The mail/send body for one batch, checked against SendGrid's limits first."""
    if not recipients:
        raise LimitError("a request needs at least one recipient")
    if len(recipients) > MAX_PERSONALIZATIONS:
        raise LimitError(
            f"{len(recipients)} personalizations in one request; "
            f"SendGrid allows {MAX_PERSONALIZATIONS}"
        )
    # One recipient per personalization, so the 1,000-recipient rule holds with the above.
    check_message(message)
    top_args = message.custom_args
    top_args_bytes = _json_bytes(top_args) if top_args else 0
    personalizations: list[dict[str, Any]] = []
    approximate = len(message.html) + len(message.text) + 1000
    for index, r in enumerate(recipients):
        to: dict[str, str] = {"email": r.email}
        name = _display_name(r.name)
        if name:
            to["name"] = name
        p: dict[str, Any] = {"to": [to]}
        if r.substitutions:
            size = _json_bytes(r.substitutions)
            if size > MAX_MAP_BYTES:
                raise LimitError(
                    f"recipient {index + 1} ({r.email}): substitutions are {size:,} bytes; "
                    f"SendGrid allows {MAX_MAP_BYTES:,}"
                )
            p["substitutions"] = r.substitutions
            approximate += size
        if r.headers:
            _check_headers(r.headers, f"recipient {index + 1} ({r.email})")
            p["headers"] = r.headers
        if r.custom_args:
            size = _json_bytes(r.custom_args)
            if top_args and size + top_args_bytes > MAX_MAP_BYTES:
                size = _json_bytes({**top_args, **r.custom_args})
            if size > MAX_MAP_BYTES:
                raise LimitError(
                    f"recipient {index + 1} ({r.email}): custom_args are {size:,} bytes "
                    f"with the message's; SendGrid allows {MAX_MAP_BYTES:,}"
                )
            p["custom_args"] = r.custom_args
        personalizations.append(p)
    body: dict[str, Any] = {"personalizations": personalizations}
    body.update(_body_without_personalizations(message))
    if approximate * 6 > MAX_BODY_BYTES:
        size = len(json.dumps(body).encode())
        if size >= MAX_BODY_BYTES:
            raise LimitError(f"the request is {size:,} bytes; SendGrid takes under 30 MB")
    return body


def _json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_address(email: str) -> str:
    """A JSON string for an address; the common case needs no escaping at all."""
    if email.isascii() and email.isprintable() and '"' not in email and "\\" not in email:
        return f'"{email}"'
    return _json(email)


TOKEN_MAX_CHARS = 100  # a token is a few base64 integers, a dot and a 16-character MAC


class _Template:
    """The JSON text of one personalization of a `PersonalizedBatch`, laid out once per
    Personalizer: per recipient only the address, the name, the id and the tokens (base64url
    and so JSON-safe as they are) are filled in. Equal, once parsed, to what `build_body`
    makes of the same recipients (a test holds them together)."""

    def __init__(self, p: LinkScheme) -> None:
        unsubscribe_base = _json(p.unsubscribe_base)[1:-1]
        vote_base = _json(p.vote_base)[1:-1]
        self.substitutions = '}],"substitutions":{' + _json(placeholders.UNSUBSCRIBE) + ':"'
        self.substitutions += unsubscribe_base
        self.view = f'",{_json(placeholders.VIEW)}:{_json(p.view_url)}'
        self.votes = [f',{_json(marker)}:"{vote_base}' for marker in p.markers]
        self.headers = '},"headers":{"List-Unsubscribe":"<' + unsubscribe_base
        self.custom_args = (
            f'>","List-Unsubscribe-Post":{_json(ONE_CLICK)}}},'
            f'"custom_args":{{"issue":{_json(p.issue_arg)},"subscriber":"'
        )
        self.tokens = p.tokens
        # The limits, proven once for the longest tokens instead of measured per recipient.
        longest = "x" * TOKEN_MAX_CHARS
        values = {
            placeholders.UNSUBSCRIBE: p.unsubscribe_base + longest,
            placeholders.VIEW: p.view_url,
        }
        values.update({marker: p.vote_base + longest for marker in p.markers})
        self.within_limits = _json_bytes(values) <= MAX_MAP_BYTES
        self.custom_args_longest = {"issue": p.issue_arg, "subscriber": "9" * 20}

    def render(self, subscriber_id: int, email: str, name: str | None) -> str:
        unsubscribe, votes = self.tokens(subscriber_id)
        display = _display_name(name)
        parts = ['{"to":[{"email":', _json_address(email)]
        if display:
            parts += (',"name":', _json(display))
        parts += (self.substitutions, unsubscribe, self.view)
        for key, token in zip(self.votes, votes, strict=True):
            parts += (key, token, '"')
        parts += (self.headers, unsubscribe, self.custom_args, str(subscriber_id), '"}}')
        return "".join(parts)


_templates: weakref.WeakKeyDictionary[LinkScheme, _Template] = weakref.WeakKeyDictionary()
_templates_lock = threading.Lock()


def _template(personalizer: LinkScheme) -> _Template:
    with _templates_lock:
        template = _templates.get(personalizer)
        if template is None:
            template = _templates[personalizer] = _Template(personalizer)
        return template


def encode_request(message: Message, recipients: Sequence[Recipient]) -> str:
    """The mail/send body as JSON text, checked against SendGrid's limits first.

    A `PersonalizedBatch` (what the sender sends) is laid out from its rows and tokens
    directly; any other sequence of recipients goes through `build_body`.
    """
    if not isinstance(recipients, PersonalizedBatch):
        return json.dumps(build_body(message, recipients))
    template = _template(recipients.personalizer)
    if not template.within_limits or not 0 < len(recipients) <= MAX_PERSONALIZATIONS:
        return json.dumps(build_body(message, list(recipients)))  # refused there, precisely
    check_message(message)
    if _json_bytes({**message.custom_args, **template.custom_args_longest}) > MAX_MAP_BYTES:
        return json.dumps(build_body(message, list(recipients)))
    rest = json.dumps(_body_without_personalizations(message))
    render = template.render
    personalizations = ",".join([render(sid, email, name) for sid, email, name in recipients.rows])
    text = f'{{"personalizations":[{personalizations}],{rest[1:]}'
    if len(text) * 4 >= MAX_BODY_BYTES and len(text.encode()) >= MAX_BODY_BYTES:
        raise LimitError(f"the request is {len(text.encode()):,} bytes; SendGrid takes under 30 MB")
    return text


# ------------------------------------------------------------------------- outcomes


def _error_text(exc: http_errors.HTTPError) -> str:
    """SendGrid's own words from an error answer, on one line."""
    raw = exc.body if isinstance(exc.body, bytes | str) else b""
    try:
        errors = json.loads(raw)["errors"]
        parts = [
            f"{e['field']}: {e['message']}" if e.get("field") else str(e["message"]) for e in errors
        ]
        text = "; ".join(parts)
    except (ValueError, KeyError, TypeError):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    text = " ".join(text.split())[:600]
    return f"SendGrid answered {exc.status_code}" + (f": {text}" if text else "")


def _header(exc: http_errors.HTTPError, name: str) -> str | None:
    headers = getattr(exc, "headers", None)
    if headers is None:
        return None
    value = headers.get(name)
    return None if value is None else str(value)


def _retry_at(exc: http_errors.HTTPError) -> float | None:
    value = _header(exc, "X-RateLimit-Reset")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify(exc: BaseException) -> DeliveryError | None:
    """What a failed mail/send call means for the batch; None if it is not a delivery
    failure at all (a bug, to be raised as is).

    - 429: transient, rate limited; come back at X-RateLimit-Reset when it is given.
    - 500/502/503/504: transient (SendGrid did not take it).
    - 401/403: permanent and stops the send (the key or the sender identity is refused).
    - 400/413 and other 4xx: permanent for this batch, with SendGrid's error text.
    - connection refused or the name not resolved: transient (nothing was sent).
    - a timeout, a reset or a drop, before or after the answer started: ambiguous.
    """
    if isinstance(exc, http_errors.HTTPError):
        status = int(exc.status_code)
        text = _error_text(exc)
        if status == 429:
            return TransientFailure(text, status=status, retry_at=_retry_at(exc), rate_limited=True)
        if status in RETRYABLE_STATUSES or status >= 500:
            return TransientFailure(text, status=status)
        if status in STOPPING_STATUSES:
            return PermanentFailure(text, status=status, stops_send=True)
        return PermanentFailure(text, status=status)
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError | socket.gaierror):
            return TransientFailure(f"could not connect to SendGrid: {reason}")
        return AmbiguousOutcome(f"the connection failed while sending: {reason}")
    if isinstance(exc, ConnectionRefusedError):
        return TransientFailure(f"could not connect to SendGrid: {exc}")
    if isinstance(exc, TimeoutError):
        return AmbiguousOutcome("no answer from SendGrid before the timeout")
    if isinstance(exc, ConnectionError | http.client.HTTPException | OSError):
        return AmbiguousOutcome(f"the connection was lost: {type(exc).__name__}: {exc}")
    return None


BUILD_PROCESS_MINIMUM = 50_000


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
    name = "sendgrid"
    supports_sandbox = True

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

    def close(self) -> None:
        """Stop the build processes, if any were started."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    def prepare(self, recipients: int) -> None:
        """Before a send of about `recipients`: start the build processes if it is big
        enough to repay them (they take a moment and some memory to start), so that they
        start while the audience is being snapshotted."""
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

    def check_message(self, message: Message) -> None:
        """What `send_issue` checks once before a send: see `check_message`."""
        check_message(message)

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = sendgrid.SendGridAPIClient(api_key=self.api_key, host=self.host)
            client.client.timeout = self.timeout
            # The body is JSON text already (`encode_request`): with a Content-Type other
            # than exactly "application/json" the package sends a str as UTF-8 instead of
            # serialising it again. This client is this thread's alone.
            client.client.request_headers["Content-Type"] = "application/json; charset=utf-8"
            self._local.client = client
        return client

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Send one request; returns its X-Message-Id ("" for a sandboxed request).

        Raises TransientFailure, PermanentFailure (LimitError before sending) or
        AmbiguousOutcome; see `classify`.
        """
        body = self._encode(message, recipients)
        started = time.monotonic()
        try:
            response = self._client().client.mail.send.post(request_body=body, timeout=self.timeout)
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            if isinstance(failure, AmbiguousOutcome):
                waited = time.monotonic() - started
                failure = AmbiguousOutcome(f"{failure} (after {waited:.1f} s)")
            raise failure from exc
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return str(message_id or "")
