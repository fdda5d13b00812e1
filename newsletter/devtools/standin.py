"""A local stand-in for SendGrid's v3 Mail Send endpoint (``POST /v3/mail/send``).

Why it exists: the test suite, editors (``newsletter dev sendgrid``) and the
benchmark need to push real requests through the real ``sendgrid`` client
without touching SendGrid, see exactly who was sent what, and rehearse the
failures (429, 5xx, timeouts, dropped connections) that decide whether the
sender double-sends or loses mail.  The validation rules follow the SendGrid
v3 documentation as collected in ``LIBRARY-FACTS.md``; where SendGrid's exact
wording or ``field`` is unknown, the stand-in names the offending item as
precisely as it can.

Standard library only: ``ThreadingHTTPServer`` + ``json``.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Literal, cast, get_args
from urllib.parse import parse_qs, urlsplit

from newsletter.delivery.providers.sendgrid.limits import (
    MAX_BODY_BYTES,
    MAX_CATEGORIES,
    MAX_CATEGORY_CHARS,
    MAX_MAP_BYTES,
    MAX_PERSONALIZATIONS,
    MAX_RECIPIENTS,
    MAX_SEND_AT_AHEAD_S,
    RESERVED_HEADERS,
)

__all__ = [
    "MAIL_SEND_PATH",
    "MAX_BODY_BYTES",
    "Accepted",
    "AcceptedPersonalization",
    "ApiError",
    "Fault",
    "FaultKind",
    "RecordMode",
    "StandIn",
    "Stats",
    "main",
    "validate_mail_send",
]

MAIL_SEND_PATH: Final = "/v3/mail/send"
CONTROL_PREFIX: Final = "/_standin/"
ERROR_FAULT_STATUSES: Final = frozenset({400, 401, 403, 413, 500, 502, 503, 504})
_HELP_BASE: Final = "https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors"
_DRAIN_LIMIT: Final = 4 * MAX_BODY_BYTES  # beyond this an oversize body is cut off
_DRAIN_IDLE_S: Final = 2.0

RecordMode = Literal["full", "count"]
FaultKind = Literal["rate_limit", "error", "slow", "drop", "drop_before"]
_FAULT_KINDS: Final[frozenset[str]] = frozenset(get_args(FaultKind))

# Plausible, not RFC 5322: a dot-atom-ish local part and a dotted domain whose
# last label is letters (or punycode).  Precompiled: it runs once per address.
_EMAIL_RE: Final = re.compile(
    r"(?!\.)(?!.*\.\.)[^\s@<>()\[\],;:\\\"]{1,64}(?<!\.)"
    r"@(?=.{1,253}\Z)(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})\Z",
    re.IGNORECASE,
)

_STATUS_MESSAGES: Final[Mapping[int, str]] = {
    400: "Bad Request",
    401: "The provided authorization grant is invalid, expired, or revoked",
    403: "The from address does not match a verified Sender Identity.",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type: the body must be UTF-8 encoded JSON.",
    429: "too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class ApiError:
    """One entry of SendGrid's ``{"errors": [...]}`` answer."""

    message: str
    field: str | None = None
    help: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"message": self.message, "field": self.field, "help": self.help}


@dataclass(frozen=True, slots=True)
class AcceptedPersonalization:
    """What one personalization asked for; addresses lower-cased for comparison.

    ``custom_args`` and ``headers`` are already merged over the request's
    top-level ones, ``subject`` is the effective (not yet substituted) subject:
    this is what the recipient's copy is built from.
    """

    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    subject: str | None
    substitutions: dict[str, str]
    custom_args: dict[str, str]
    headers: dict[str, str]
    send_at: int | None


@dataclass(frozen=True, slots=True)
class Accepted:
    """One accepted mail/send request; the content is kept once, not per recipient."""

    message_id: str
    received_at: datetime
    from_email: str
    from_name: str | None
    subject: str | None
    text: str | None
    html: str | None
    categories: tuple[str, ...]
    template_id: str | None
    send_at: int | None
    size_bytes: int
    personalizations: tuple[AcceptedPersonalization, ...]

    def render(self, p: AcceptedPersonalization) -> tuple[str, str]:
        """(text, html) as ``p``'s recipients would get them (missing parts are "")."""
        return _substitute(self.text or "", p.substitutions), _substitute(
            self.html or "", p.substitutions
        )


@dataclass(frozen=True, slots=True)
class Stats:
    """Counters kept in both record modes (cheap enough for the benchmark)."""

    requests: int = 0  # every POST /v3/mail/send, whatever the outcome
    accepted_requests: int = 0
    accepted_personalizations: int = 0
    accepted_recipients: int = 0  # to + cc + bcc
    accepted_bytes: int = 0
    sandboxed_requests: int = 0
    sandboxed_personalizations: int = 0
    rejected_requests: int = 0  # answered 4xx by auth/size/validation
    faults_applied: int = 0

    def as_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Fault:
    """A scripted misbehaviour for one mail/send request.

    ``rate_limit``: 429 (with ``X-RateLimit-*`` headers unless ``headers`` is
    false, reset ``reset_in`` seconds ahead); ``error``: answer ``status``;
    ``slow``: wait ``seconds`` then answer normally; ``drop``: process the
    request as usual (a valid one is recorded as accepted), then close without
    answering; ``drop_before``: read the body, close without accepting.  A
    fault is used up by the next mail/send request whatever its key or body.
    """

    kind: FaultKind
    status: int = 500
    seconds: float = 1.0
    reset_in: float = 60.0
    limit: int = 600
    headers: bool = True
    message: str | None = None

    @classmethod
    def build(cls, kind: str, **params: Any) -> Fault:
        """Check a fault spec (from Python or from JSON) so typos fail loudly."""
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(_FAULT_KINDS)}")
        allowed = {
            "rate_limit": {"reset_in", "limit", "headers", "message"},
            "error": {"status", "message"},
            "slow": {"seconds"},
            "drop": set(),
            "drop_before": set(),
        }[kind]
        unknown = set(params) - allowed
        if unknown:
            raise ValueError(f"fault {kind!r} takes no parameter(s) {sorted(unknown)}")
        for name in ("seconds", "reset_in"):
            value = params.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        status = params.get("status", 500)
        if isinstance(status, bool) or status not in ERROR_FAULT_STATUSES:
            raise ValueError(f"status must be one of {sorted(ERROR_FAULT_STATUSES)}")
        limit = params.get("limit", 600)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a positive integer")
        if not isinstance(params.get("headers", True), bool):
            raise ValueError("headers must be a boolean")
        if not isinstance(params.get("message", ""), str):
            raise ValueError("message must be a string")
        return cls(kind=cast(FaultKind, kind), **params)

    def as_json(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"fault": self.kind}
        if self.kind == "rate_limit":
            spec.update(reset_in=self.reset_in, limit=self.limit, headers=self.headers)
        elif self.kind == "error":
            spec["status"] = self.status
        elif self.kind == "slow":
            spec["seconds"] = self.seconds
        if self.message is not None:
            spec["message"] = self.message
        return spec


@dataclass(slots=True)
class _Scripted:
    fault: Fault
    remaining: int


@dataclass(slots=True)
class _Outcome:
    """Result of processing one mail/send body (before any drop)."""

    status: int
    errors: list[ApiError] = field(default_factory=list)
    message_id: str | None = None
    personalizations: int = 0


# --------------------------------------------------------------------- validation


def _substitute(text: str, substitutions: Mapping[str, str]) -> str:
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return text


def _map_too_big(value: Mapping[str, str]) -> bool:
    """Whether compact UTF-8 JSON of ``value`` exceeds ``MAX_MAP_BYTES``.

    A JSON character costs 1..6 bytes (``\\u00XX``), so most maps are decided
    from their length alone; only borderline ones are serialised (the
    benchmark checks 1000 of these per request).
    """
    chars = sum(len(k) + len(v) + 6 for k, v in value.items()) + 1
    if chars > MAX_MAP_BYTES:
        return True
    if chars * 6 <= MAX_MAP_BYTES:
        return False
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return len(encoded) > MAX_MAP_BYTES


def _help(field_name: str | None) -> str | None:
    if field_name is None:
        return None
    return f"{_HELP_BASE}#message.{field_name.split('.', 1)[0]}"


class _Errors:
    """Collects every problem, as SendGrid reports all of them at once."""

    def __init__(self) -> None:
        self.items: list[ApiError] = []

    def add(self, field_name: str | None, message: str) -> None:
        self.items.append(ApiError(message, field_name, _help(field_name)))


def _plausible_email(value: object) -> bool:
    return isinstance(value, str) and _EMAIL_RE.match(value) is not None


def _check_address(value: Any, field_name: str, errs: _Errors, *, what: str) -> None:
    if not isinstance(value, dict) or not _plausible_email(value.get("email")):
        errs.add(
            f"{field_name}.email",
            f"The {what} object must be provided with a valid email parameter, "
            'e.g. {"email": "example@example.com", "name": "Example"}.',
        )
        return
    _check_name(value.get("name"), f"{field_name}.name", errs)


def _check_name(name: Any, field_name: str, errs: _Errors) -> None:
    if name is None:
        return
    if not isinstance(name, str):
        errs.add(field_name, "The name must be a string.")
    elif ";" in name or "," in name:
        errs.add(field_name, "The name may not contain ';' or ','.")


def _check_recipients(
    value: Any, field_name: str, seen: dict[str, str], errs: _Errors
) -> list[str]:
    """Check one to/cc/bcc list; return its lower-cased valid addresses."""
    if not isinstance(value, list):
        errs.add(field_name, "Must be an array of email objects.")
        return []
    found: list[str] = []
    for j, item in enumerate(value):
        item_field = f"{field_name}.{j}"
        email = item.get("email") if isinstance(item, dict) else None
        if not _plausible_email(email):
            errs.add(f"{item_field}.email", "Does not contain a valid address.")
            continue
        assert isinstance(email, str)
        assert isinstance(item, dict)
        lowered = email.lower()
        first = seen.get(lowered)
        if first is not None:
            errs.add(
                f"{item_field}.email",
                "Each email address in the personalization block should be unique between "
                f"to, cc, and bcc. We found the first duplicate instance of [{email}] "
                f"in the {first} field.",
            )
        else:
            seen[lowered] = field_name
        found.append(lowered)
        _check_name(item.get("name"), f"{item_field}.name", errs)
    return found


def _check_string_map(value: Any, field_name: str, errs: _Errors) -> dict[str, str]:
    """A JSON object of string values; absent/null is an empty map."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errs.add(field_name, "Must be an object of string keys and string values.")
        return {}
    good: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            good[key] = item
        else:
            errs.add(f"{field_name}.{key}", "Values must be strings.")
    return good


def _check_headers(value: Any, field_name: str, errs: _Errors) -> dict[str, str]:
    headers = _check_string_map(value, field_name, errs)
    for name in headers:
        if name.lower() in RESERVED_HEADERS:
            errs.add(f"{field_name}.{name}", f"The header {name} is reserved and cannot be used.")
    return headers


def _check_send_at(value: Any, field_name: str, now: float, errs: _Errors) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errs.add(field_name, "send_at must be an integer unix timestamp.")
        return None
    if value > now + MAX_SEND_AT_AHEAD_S:
        errs.add(field_name, "send_at cannot be scheduled more than 72 hours in advance.")
    return value


def _check_categories(value: Any, errs: _Errors) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        errs.add("categories", "categories must be an array of strings.")
        return
    if len(value) > MAX_CATEGORIES:
        errs.add("categories", f"You cannot have more than {MAX_CATEGORIES} categories per send.")
    seen: set[str] = set()
    for i, category in enumerate(value):
        item_field = f"categories.{i}"
        if not isinstance(category, str):
            errs.add(item_field, "Each category must be a string.")
            continue
        if not category.isascii():
            errs.add(item_field, "Categories must be ASCII.")
        if len(category) > MAX_CATEGORY_CHARS:
            errs.add(item_field, f"A category may not exceed {MAX_CATEGORY_CHARS} characters.")
        if category in seen:
            errs.add(item_field, "Categories must be unique.")
        seen.add(category)


def _check_content(value: Any, has_template: bool, errs: _Errors) -> None:
    if value is None or value == []:
        if not has_template:
            errs.add(
                "content",
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.",
            )
        return
    if not isinstance(value, list):
        errs.add("content", "content must be an array of {type, value} objects.")
        return
    plain_at: int | None = None
    html_at: int | None = None
    for i, item in enumerate(value):
        item_field = f"content.{i}"
        if not isinstance(item, dict):
            errs.add(item_field, "Each content block must be an object with type and value.")
            continue
        ctype, cvalue = item.get("type"), item.get("value")
        if not isinstance(cvalue, str) or not cvalue:
            errs.add(
                f"{item_field}.value",
                "The content value must be a string at least one character in length.",
            )
        if not isinstance(ctype, str) or not ctype.strip():
            errs.add(
                f"{item_field}.type",
                "The content type must be a string at least one character in length.",
            )
            continue
        kind = ctype.strip().lower()
        if kind not in ("text/plain", "text/html"):
            continue
        if (plain_at if kind == "text/plain" else html_at) is not None:
            errs.add(f"{item_field}.type", f"{kind} may only be provided once.")
            continue
        expected = 0 if kind == "text/plain" or plain_at is None else plain_at + 1
        if i != expected:
            errs.add(
                f"{item_field}.type",
                "The text/plain content type must be first, followed by text/html, "
                "followed by any other content.",
            )
        if kind == "text/plain":
            plain_at = i
        else:
            html_at = i


def _check_personalizations(
    value: Any, top_custom: Mapping[str, str], now: float, errs: _Errors
) -> bool:
    """Check the personalizations; return whether every one carries a subject."""
    if not isinstance(value, list) or not value:
        errs.add(
            "personalizations",
            "The personalizations field is required and must have at least one personalization.",
        )
        return False
    if len(value) > MAX_PERSONALIZATIONS:
        errs.add(
            "personalizations",
            f"The personalizations field may not have more than {MAX_PERSONALIZATIONS} items.",
        )
    recipients = 0
    every_subject = True
    for i, p in enumerate(value):
        p_field = f"personalizations.{i}"
        if not isinstance(p, dict):
            errs.add(p_field, "Each personalization must be an object.")
            every_subject = False
            continue
        seen: dict[str, str] = {}
        to = p.get("to")
        if not isinstance(to, list) or not to:
            errs.add(
                f"{p_field}.to",
                "The to array is required for all personalization objects, and must have "
                "at least one email object with a valid email address.",
            )
        else:
            recipients += len(_check_recipients(to, f"{p_field}.to", seen, errs))
        for key in ("cc", "bcc"):
            if p.get(key) is not None:
                recipients += len(_check_recipients(p[key], f"{p_field}.{key}", seen, errs))
        subject = p.get("subject")
        if subject is not None and not isinstance(subject, str):
            errs.add(f"{p_field}.subject", "The subject must be a string.")
        if not (isinstance(subject, str) and subject):
            every_subject = False
        _check_headers(p.get("headers"), f"{p_field}.headers", errs)
        substitutions = _check_string_map(p.get("substitutions"), f"{p_field}.substitutions", errs)
        if substitutions and _map_too_big(substitutions):
            errs.add(
                f"{p_field}.substitutions",
                f"The substitutions of a personalization may not exceed {MAX_MAP_BYTES} bytes.",
            )
        custom = _check_string_map(p.get("custom_args"), f"{p_field}.custom_args", errs)
        merged = {**top_custom, **custom} if custom else top_custom
        if merged and _map_too_big(merged):
            errs.add(
                f"{p_field}.custom_args",
                f"custom_args merged with the top-level custom_args may not exceed "
                f"{MAX_MAP_BYTES} bytes.",
            )
        _check_send_at(p.get("send_at"), f"{p_field}.send_at", now, errs)
    if recipients > MAX_RECIPIENTS:
        errs.add(
            "personalizations",
            f"The total number of recipients (to, cc and bcc) may not exceed {MAX_RECIPIENTS}.",
        )
    return every_subject


def _sandboxed(value: Any, errs: _Errors) -> bool:
    if value is None:
        return False
    if not isinstance(value, dict):
        errs.add("mail_settings", "mail_settings must be an object.")
        return False
    sandbox = value.get("sandbox_mode")
    if sandbox is None:
        return False
    if not isinstance(sandbox, dict):
        errs.add("mail_settings.sandbox_mode", "sandbox_mode must be an object.")
        return False
    enable = sandbox.get("enable")
    if enable is not None and not isinstance(enable, bool):
        errs.add("mail_settings.sandbox_mode.enable", "enable must be a boolean.")
        return False
    return enable is True


def validate_mail_send(body: Any, now: float | None = None) -> tuple[list[ApiError], bool]:
    """Validate a decoded mail/send body; return (errors, sandbox_mode_enabled).

    Exposed so other code (and tests) can check a body without a server.
    """
    when = time.time() if now is None else now
    errs = _Errors()
    if not isinstance(body, dict):
        errs.add(None, "The request body must be a JSON object.")
        return errs.items, False
    _check_address(body.get("from"), "from", errs, what="from")
    if body.get("reply_to") is not None:
        _check_address(body["reply_to"], "reply_to", errs, what="reply_to")
    template_id = body.get("template_id")
    if template_id is not None and not isinstance(template_id, str):
        errs.add("template_id", "template_id must be a string.")
    has_template = isinstance(template_id, str) and bool(template_id)
    _check_content(body.get("content"), has_template, errs)
    _check_headers(body.get("headers"), "headers", errs)
    top_custom = _check_string_map(body.get("custom_args"), "custom_args", errs)
    _check_categories(body.get("categories"), errs)
    _check_send_at(body.get("send_at"), "send_at", when, errs)
    every_subject = _check_personalizations(body.get("personalizations"), top_custom, when, errs)
    subject = body.get("subject")
    if subject is not None and not isinstance(subject, str):
        errs.add("subject", "The subject must be a string.")
    elif not subject and not every_subject and not has_template:
        errs.add(
            "subject",
            "The subject is required. You can get around this requirement if you use a "
            "template with a subject defined or if every personalization has a subject defined.",
        )
    sandbox = _sandboxed(body.get("mail_settings"), errs)
    return errs.items, sandbox


def _build_accepted(body: dict[str, Any], message_id: str, size: int) -> Accepted:
    """Turn a validated body into the record tests assert on."""
    top_custom: dict[str, str] = body.get("custom_args") or {}
    top_headers: dict[str, str] = body.get("headers") or {}
    top_subject: str | None = body.get("subject") or None
    text = html = None
    for item in body.get("content") or ():
        kind = item["type"].strip().lower()
        if kind == "text/plain":
            text = item["value"]
        elif kind == "text/html":
            html = item["value"]

    def emails(items: Sequence[dict[str, Any]] | None) -> tuple[str, ...]:
        return tuple(item["email"].lower() for item in items or ())

    personalizations = tuple(
        AcceptedPersonalization(
            to=emails(p["to"]),
            cc=emails(p.get("cc")),
            bcc=emails(p.get("bcc")),
            subject=p.get("subject") or top_subject,
            substitutions=p.get("substitutions") or {},
            custom_args={**top_custom, **(p.get("custom_args") or {})},
            headers={**top_headers, **(p.get("headers") or {})},
            send_at=p.get("send_at", body.get("send_at")),
        )
        for p in body["personalizations"]
    )
    sender = body["from"]
    return Accepted(
        message_id=message_id,
        received_at=datetime.now(UTC),
        from_email=sender["email"],
        from_name=sender.get("name"),
        subject=top_subject,
        text=text,
        html=html,
        categories=tuple(body.get("categories") or ()),
        template_id=body.get("template_id"),
        send_at=body.get("send_at"),
        size_bytes=size,
        personalizations=personalizations,
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# ------------------------------------------------------------------------ the stand-in


class StandIn:
    """A SendGrid mail/send stand-in: records what was accepted, injects faults.

    Thread-safe: the server handles each connection in its own thread and the
    test (or the control routes) may inspect or script it at any time.
    """

    def __init__(
        self,
        api_keys: Iterable[str] = ("test-key",),
        record: RecordMode = "full",
        *,
        verbose: bool = False,
    ) -> None:
        if record not in ("full", "count"):
            raise ValueError("record must be 'full' or 'count'")
        self.api_keys: frozenset[str] = frozenset(api_keys)
        self.record: RecordMode = record
        self.verbose = verbose
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: deque[_Scripted] = deque()
        self._default_fault: Fault | None = None
        self._requests: list[Accepted] = []
        self._stats = Stats()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # -- lifecycle

    @property
    def url(self) -> str:
        """Base URL to give ``SendGridAPIClient(host=...)``."""
        if self._url is None:
            raise RuntimeError("the stand-in is not running")
        return self._url

    def _bind(self, host: str, port: int) -> _Server:
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        self._stopping.clear()
        server = _Server((host, port), _Handler, self)
        bound_host, bound_port = server.server_address[:2]
        shown = bound_host if isinstance(bound_host, str) else bound_host.decode()
        if ":" in shown:
            shown = f"[{shown}]"
        self._server, self._url = server, f"http://{shown}:{bound_port}"
        return server

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a daemon thread (for tests); return the base URL."""
        server = self._bind(host, port)
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits up to one interval
            name="sendgrid-standin",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving; in-flight ``slow`` faults are cut short."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        if thread is not None:
            server.shutdown()
            thread.join(timeout=5)
        server.server_close()
        self._server = self._thread = self._url = None

    def serve_forever(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        ready: Callable[[str], None] | None = None,
    ) -> None:
        """Serve in the calling thread (for the CLI) until Ctrl-C; ``ready`` gets the URL."""
        server = self._bind(host, port)
        if ready is not None:
            ready(self.url)
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._stopping.set()
            server.server_close()
            self._server = self._url = None

    def __enter__(self) -> StandIn:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults

    def inject(self, fault: str, count: int = 1, **params: Any) -> None:
        """Apply ``fault`` to the next ``count`` mail/send requests (after earlier ones)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        built = Fault.build(fault, **params)
        with self._lock:
            self._faults.append(_Scripted(built, count))

    def set_default_fault(self, fault: str | None, **params: Any) -> None:
        """Apply ``fault`` to every request once the queue is empty (None: behave)."""
        built = None if fault is None else Fault.build(fault, **params)
        with self._lock:
            self._default_fault = built

    def clear_faults(self) -> None:
        """Forget queued faults and the default mode."""
        with self._lock:
            self._faults.clear()
            self._default_fault = None

    def faults(self) -> dict[str, Any]:
        """The queued faults and the default mode, as JSON-able data."""
        with self._lock:
            return {
                "queue": [{**s.fault.as_json(), "count": s.remaining} for s in self._faults],
                "default": None if self._default_fault is None else self._default_fault.as_json(),
            }

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._faults:
                head = self._faults[0]
                head.remaining -= 1
                if head.remaining <= 0:
                    self._faults.popleft()
                fault: Fault | None = head.fault
            else:
                fault = self._default_fault
            if fault is not None:
                self._bump(faults_applied=1)
            return fault

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    # -- records

    def reset(self) -> None:
        """Back to as-new: records, counters and faults are cleared."""
        with self._lock:
            self._requests.clear()
            self._stats = Stats()
            self._faults.clear()
            self._default_fault = None

    def _require_full(self) -> None:
        if self.record != "full":
            raise RuntimeError("this stand-in only counts (record='count'); use stats()")

    @property
    def requests(self) -> list[Accepted]:
        """Every accepted request, oldest first (a snapshot)."""
        self._require_full()
        with self._lock:
            return list(self._requests)

    def recipients(self) -> list[str]:
        """Every accepted ``to`` address, one entry per acceptance (duplicates show)."""
        return [email for req in self.requests for p in req.personalizations for email in p.to]

    def deliveries_for(self, email: str) -> list[tuple[Accepted, AcceptedPersonalization]]:
        """Each (request, personalization) that accepted ``email`` as a ``to``."""
        wanted = email.lower()
        return [(req, p) for req in self.requests for p in req.personalizations if wanted in p.to]

    def rendered_for(self, email: str) -> list[tuple[str, str]]:
        """(text, html) after substitutions, once per time ``email`` was accepted."""
        return [req.render(p) for req, p in self.deliveries_for(email)]

    def subjects_for(self, email: str) -> list[str | None]:
        """The subject after substitutions, once per time ``email`` was accepted."""
        return [
            None if p.subject is None else _substitute(p.subject, p.substitutions)
            for _, p in self.deliveries_for(email)
        ]

    def stats(self) -> Stats:
        """A snapshot of the counters."""
        with self._lock:
            return self._stats

    def _bump(self, **deltas: int) -> None:
        """Add to counters; caller holds the lock."""
        current = self._stats
        self._stats = Stats(
            **{name: getattr(current, name) + deltas.get(name, 0) for name in Stats.__slots__}
        )

    def summary(self, *, content: bool = False) -> dict[str, Any]:
        """What ``GET /_standin/accepted`` answers: recipients and per-request data."""
        requests = self.requests
        out_requests: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for req in requests:
            item: dict[str, Any] = {
                "message_id": req.message_id,
                "received_at": req.received_at.isoformat(),
                "from": req.from_email,
                "subject": req.subject,
                "categories": list(req.categories),
                "template_id": req.template_id,
                "size_bytes": req.size_bytes,
                "personalizations": [
                    {
                        "to": list(p.to),
                        "cc": list(p.cc),
                        "bcc": list(p.bcc),
                        "subject": p.subject,
                        "custom_args": p.custom_args,
                        "substitutions": p.substitutions,
                        "headers": p.headers,
                    }
                    for p in req.personalizations
                ],
            }
            if content:
                item.update(text=req.text, html=req.html)
            out_requests.append(item)
            deliveries.extend(
                {"email": email, "message_id": req.message_id, "custom_args": p.custom_args}
                for p in req.personalizations
                for email in p.to
            )
        return {
            "record": self.record,
            "recipients": [d["email"] for d in deliveries],
            "deliveries": deliveries,
            "requests": out_requests,
        }

    # -- the endpoint itself

    def _process(self, authorization: str | None, raw: bytes) -> _Outcome:
        """Auth, decode, validate and record one mail/send body."""
        if authorization is None:
            return self._reject(401, [ApiError("authorization required")])
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or key.strip() not in self.api_keys:
            return self._reject(401, [ApiError(_STATUS_MESSAGES[401])])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._reject(415, [ApiError(_STATUS_MESSAGES[415])])
        try:
            body = json.loads(text, parse_constant=_reject_constant)
        except ValueError:
            return self._reject(400, [ApiError("Bad Request: the body is not valid JSON.")])
        errors, sandbox = validate_mail_send(body)
        if errors:
            return self._reject(400, errors)
        assert isinstance(body, dict)
        personalizations: list[dict[str, Any]] = body["personalizations"]
        count = len(personalizations)
        if sandbox:
            with self._lock:
                self._bump(sandboxed_requests=1, sandboxed_personalizations=count)
            return _Outcome(200, personalizations=count)
        recipients = sum(
            len(p["to"]) + len(p.get("cc") or ()) + len(p.get("bcc") or ())
            for p in personalizations
        )
        message_id = secrets.token_urlsafe(16)
        record = _build_accepted(body, message_id, len(raw)) if self.record == "full" else None
        with self._lock:
            if record is not None:
                self._requests.append(record)
            self._bump(
                accepted_requests=1,
                accepted_personalizations=count,
                accepted_recipients=recipients,
                accepted_bytes=len(raw),
            )
        return _Outcome(202, message_id=message_id, personalizations=count)

    def _reject(self, status: int, errors: list[ApiError]) -> _Outcome:
        with self._lock:
            self._bump(rejected_requests=1)
        return _Outcome(status, errors)

    def _count_request(self) -> None:
        with self._lock:
            self._bump(requests=1)

    def log(self, line: str) -> None:
        """One line to stderr when verbose (the CLI); silent in tests."""
        if self.verbose:
            stamp = datetime.now().strftime("%H:%M:%S")
            print(f"[standin {stamp}] {line}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        standin: StandIn,
    ) -> None:
        self.standin = standin
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, drops) are normal here, not tracebacks."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _BodyProblem(Exception):
    """The body could not be read; the handler answers ``status`` and closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sendgrid-standin/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this

    def version_string(self) -> str:
        return self.server_version

    @property
    def standin(self) -> StandIn:
        server = self.server
        assert isinstance(server, _Server)
        return server.standin

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Replaced by one line per request from ``_dispatch``."""

    def log_message(self, format: str, *args: Any) -> None:
        self.standin.log(f"{self.client_address[0]} {format % args}")

    def handle_expect_100(self) -> bool:
        """Refuse an oversize body before the client sends it."""
        length = self.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            self._send_errors(413, [ApiError(_STATUS_MESSAGES[413])], close=True)
            return False
        return super().handle_expect_100()

    # -- plumbing

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        status, note = 500, ""
        try:
            if path == MAIL_SEND_PATH:
                status, note = self._mail_send()
            elif path.startswith(CONTROL_PREFIX):
                status = self._control(path)
            else:
                status = self._plain_error(404)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            note = "client went away"
        except Exception:  # a bug here must not look like a SendGrid drop
            traceback.print_exc()
            self._send_errors(500, [ApiError("stand-in internal error")], close=True)
        answer = str(status) if status else "no answer (connection closed)"
        self.standin.log(f"{self.command} {self.path} -> {answer}{note}")

    def _plain_error(self, status: int, *, allow: str | None = None) -> int:
        """Answer an error after discarding the body, so keep-alive survives."""
        try:
            self._read_body()
        except _BodyProblem as problem:
            self._send_errors(problem.status, [ApiError(str(problem))], close=True)
            return problem.status
        extra = {"Allow": allow} if allow else None
        self._send_errors(status, [ApiError(_STATUS_MESSAGES[status])], headers=extra)
        return status

    def _read_body(self) -> bytes:
        """Read the body, refusing more than ``MAX_BODY_BYTES`` before reading it."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError(raw_length)
        except ValueError:
            raise _BodyProblem(400, "Invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise _BodyProblem(413, _STATUS_MESSAGES[413])
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BodyProblem(400, "Malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyProblem(413, _STATUS_MESSAGES[413])
            parts.append(self.rfile.read(size))
            self.rfile.readline(3)

    def _drain_after_refusal(self) -> None:
        """Swallow an oversize body so the client can read the 413, then close.

        Closing with unread data makes the kernel send RST, and the client
        would see a reset instead of the answer.
        """
        self.close_connection = True
        remaining = int(self.headers.get("Content-Length") or 0) or _DRAIN_LIMIT
        remaining = min(remaining, _DRAIN_LIMIT)
        try:
            self.connection.settimeout(_DRAIN_IDLE_S)
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_errors(
        self,
        status: int,
        errors: Sequence[ApiError],
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        body = json.dumps({"errors": [e.as_json() for e in errors]}).encode()
        self._send(status, body, headers, close=close)

    def _send_json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload).encode())

    # -- POST /v3/mail/send

    def _mail_send(self) -> tuple[int, str]:
        """Answer one mail/send request; return (status, log note)."""
        if self.command != "POST":
            return self._plain_error(405, allow="POST"), ""
        standin = self.standin
        standin._count_request()
        fault = standin._next_fault()
        note = f" fault={fault.kind}" if fault else ""
        try:
            raw = self._read_body()
        except _BodyProblem as problem:
            standin._reject(problem.status, [])
            self._send_errors(problem.status, [ApiError(str(problem))], close=True)
            if problem.status == 413:
                self._drain_after_refusal()
            return problem.status, note
        if fault is not None:
            early = self._early_fault(fault)
            if early is not None:
                return early, note
        outcome = standin._process(self.headers.get("Authorization"), raw)
        note = f" personalizations={outcome.personalizations}{note}"
        if fault is not None and fault.kind == "drop":
            self.close_connection = True  # accepted (maybe), yet nobody is told
            return 0, note
        if outcome.errors:
            self._send_errors(outcome.status, outcome.errors)
        elif outcome.message_id is not None:
            self._send(outcome.status, headers={"X-Message-Id": outcome.message_id})
        else:
            self._send(outcome.status)
        return outcome.status, note

    def _early_fault(self, fault: Fault) -> int | None:
        """Apply a fault that answers before processing; None to carry on."""
        if fault.kind == "drop_before":
            self.close_connection = True
            return 0
        if fault.kind == "slow":
            self.standin._sleep(fault.seconds)
            return None
        if fault.kind == "rate_limit":
            headers: dict[str, str] = {}
            if fault.headers:
                headers = {
                    "X-RateLimit-Limit": str(fault.limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(time.time() + fault.reset_in)),
                }
            message = fault.message or _STATUS_MESSAGES[429]
            self._send_errors(429, [ApiError(message)], headers)
            return 429
        if fault.kind == "error":
            message = fault.message or _STATUS_MESSAGES[fault.status]
            self._send_errors(fault.status, [ApiError(message)])
            return fault.status
        return None  # "drop" is applied after processing

    # -- /_standin/* control routes (no auth: a local dev tool)

    def _control(self, path: str) -> int:
        route = path[len(CONTROL_PREFIX) :].rstrip("/")
        allowed = {
            "faults": ("GET", "POST", "DELETE"),
            "accepted": ("GET",),
            "reset": ("POST",),
            "stats": ("GET",),
        }.get(route)
        if allowed is None:
            return self._plain_error(404)
        if self.command not in allowed:
            return self._plain_error(405, allow=", ".join(allowed))
        try:
            raw = self._read_body()
        except _BodyProblem as problem:
            self._send_errors(problem.status, [ApiError(str(problem))], close=True)
            return problem.status
        standin = self.standin
        if route == "faults":
            if self.command == "POST":
                refusal = self._post_fault(raw)
                if refusal is not None:
                    self._send_errors(400, [ApiError(refusal)])
                    return 400
            elif self.command == "DELETE":
                standin.clear_faults()
            self._send_json(200, standin.faults())
        elif route == "accepted":
            if standin.record != "full":
                self._send_errors(409, [ApiError("record='count': nothing is recorded")])
                return 409
            query = parse_qs(urlsplit(self.path).query)
            content = query.get("content", ["0"])[-1].lower() in ("1", "true", "yes")
            self._send_json(200, standin.summary(content=content))
        elif route == "reset":
            standin.reset()
            self._send_json(200, {"reset": True})
        else:
            self._send_json(200, standin.stats().as_json())
        return 200

    def _post_fault(self, raw: bytes) -> str | None:
        """Queue (or set as default) the fault described by a JSON body."""
        try:
            spec = json.loads(raw.decode("utf-8") or "null")
        except ValueError:
            return "the body must be JSON"
        if not isinstance(spec, dict) or not isinstance(spec.get("fault"), str | None):
            return 'expected {"fault": name, "count": n, ...params}'
        params = dict(spec)
        kind = params.pop("fault", None)
        count = params.pop("count", 1)
        as_default = params.pop("default", False)
        try:
            if as_default is True:
                self.standin.set_default_fault(kind, **params)
            elif kind is None:
                return "fault is required (or default: true with fault null to clear)"
            else:
                self.standin.inject(kind, count, **params)
        except (TypeError, ValueError) as exc:
            return str(exc)
        return None


# ---------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newsletter.devtools.standin``: run a stand-in, e.g. as a test subprocess.

    Prints the base URL on the first stdout line so a parent process can read it.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", action="append", dest="api_keys")
    parser.add_argument("--record", choices=("full", "count"), default="full")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    standin = StandIn(
        args.api_keys or ("test-key",), record=cast(RecordMode, args.record), verbose=args.verbose
    )
    standin.serve_forever(args.host, args.port, ready=lambda url: print(url, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
