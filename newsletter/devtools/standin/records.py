"""What the stand-in accepted and how often: the records tests assert on, and counters.

In "full" mode every accepted request is kept, its content once and its personalizations
as asked for, so a test can see who got what, after substitutions, as many times as it was
accepted (a duplicate send shows). In "count" mode only the counters are kept, cheap enough
for a benchmark's million recipients.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

RecordMode = Literal["full", "count"]


def substitute(text: str, substitutions: Mapping[str, str]) -> str:
    """What SendGrid does to the subject, text and HTML with a personalization's map."""
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return text


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
        return substitute(self.text or "", p.substitutions), substitute(
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


def accepted_from(body: dict[str, Any], message_id: str, size: int) -> Accepted:
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


class Recorder:
    """The accepted requests (in "full" mode) and the counters (always), behind one lock:
    the server records from a thread per connection while a test reads at any time."""

    def __init__(self, mode: RecordMode = "full") -> None:
        if mode not in ("full", "count"):
            raise ValueError("record must be 'full' or 'count'")
        self.mode: RecordMode = mode
        self._lock = threading.Lock()
        self._requests: list[Accepted] = []
        self._stats = Stats()

    # -- writing

    def count(self, **deltas: int) -> None:
        """Add to the counters (names as in `Stats`)."""
        with self._lock:
            self._bump(deltas)

    def accept(
        self, record: Accepted | None, *, personalizations: int, recipients: int, size: int
    ) -> None:
        """One accepted request: kept when `record` is given (full mode), counted always."""
        with self._lock:
            if record is not None:
                self._requests.append(record)
            self._bump(
                {
                    "accepted_requests": 1,
                    "accepted_personalizations": personalizations,
                    "accepted_recipients": recipients,
                    "accepted_bytes": size,
                }
            )

    def reset(self) -> None:
        """Forget every record and counter."""
        with self._lock:
            self._requests.clear()
            self._stats = Stats()

    def _bump(self, deltas: Mapping[str, int]) -> None:
        """Replace the (immutable) counters; the caller holds the lock."""
        current = self._stats
        self._stats = Stats(
            **{name: getattr(current, name) + deltas.get(name, 0) for name in Stats.__slots__}
        )

    # -- reading

    @property
    def kept(self) -> int:
        """How many requests are kept in full (none, when only counting)."""
        with self._lock:
            return len(self._requests)

    def stats(self) -> Stats:
        """A snapshot of the counters."""
        with self._lock:
            return self._stats

    @property
    def requests(self) -> list[Accepted]:
        """Every accepted request, oldest first (a snapshot)."""
        if self.mode != "full":
            raise RuntimeError("this stand-in only counts (record='count'); use stats()")
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
            None if p.subject is None else substitute(p.subject, p.substitutions)
            for _, p in self.deliveries_for(email)
        ]

    def summary(self, *, content: bool = False) -> dict[str, Any]:
        """What ``GET /_standin/accepted`` answers: recipients and per-request data."""
        out_requests: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for req in self.requests:
            item = _request_summary(req)
            if content:
                item.update(text=req.text, html=req.html)
            out_requests.append(item)
            deliveries.extend(
                {"email": email, "message_id": req.message_id, "custom_args": p.custom_args}
                for p in req.personalizations
                for email in p.to
            )
        return {
            "record": self.mode,
            "recipients": [d["email"] for d in deliveries],
            "deliveries": deliveries,
            "requests": out_requests,
        }


def _request_summary(req: Accepted) -> dict[str, Any]:
    """One accepted request as JSON-able data, without its content."""
    return {
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
