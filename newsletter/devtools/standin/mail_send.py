"""``POST /v3/mail/send``: authenticate, decode, validate and record one request, with the
scripted fault (if any) applied before or after, as the real failure would happen."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from newsletter.devtools.standin.api_errors import STATUS_MESSAGES, ApiError
from newsletter.devtools.standin.exchange import BodyProblem, Exchange
from newsletter.devtools.standin.faults import Fault
from newsletter.devtools.standin.records import accepted_from
from newsletter.devtools.standin.validation import validate_mail_send

if TYPE_CHECKING:
    from newsletter.devtools.standin.stand_in import StandIn

MAIL_SEND_PATH: Final = "/v3/mail/send"


@dataclass(slots=True)
class Outcome:
    """Result of processing one mail/send body (before any drop)."""

    status: int
    errors: list[ApiError] = field(default_factory=list)
    message_id: str | None = None
    personalizations: int = 0


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def process(standin: StandIn, authorization: str | None, raw: bytes) -> Outcome:
    """Auth, decode, validate and record one mail/send body."""
    if authorization is None:
        return _reject(standin, 401, [ApiError("authorization required")])
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or key.strip() not in standin.api_keys:
        return _reject(standin, 401, [ApiError(STATUS_MESSAGES[401])])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _reject(standin, 415, [ApiError(STATUS_MESSAGES[415])])
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return _reject(standin, 400, [ApiError("Bad Request: the body is not valid JSON.")])
    errors, sandbox = validate_mail_send(body)
    if errors:
        return _reject(standin, 400, errors)
    assert isinstance(body, dict)
    personalizations: list[dict[str, Any]] = body["personalizations"]
    count = len(personalizations)
    if sandbox:
        standin.recorder.count(sandboxed_requests=1, sandboxed_personalizations=count)
        return Outcome(200, personalizations=count)
    recipients = sum(
        len(p["to"]) + len(p.get("cc") or ()) + len(p.get("bcc") or ()) for p in personalizations
    )
    message_id = secrets.token_urlsafe(16)
    record = accepted_from(body, message_id, len(raw)) if standin.record == "full" else None
    standin.recorder.accept(record, personalizations=count, recipients=recipients, size=len(raw))
    if standin.events is not None:
        standin.events.accepted(body, message_id, time.time())
    return Outcome(202, message_id=message_id, personalizations=count)


def _reject(standin: StandIn, status: int, errors: list[ApiError]) -> Outcome:
    standin.recorder.count(rejected_requests=1)
    return Outcome(status, errors)


def answer(exchange: Exchange) -> tuple[int, str]:
    """Answer one mail/send request; return (status, log note); status 0: no answer."""
    if exchange.command != "POST":
        return exchange.refuse(405, allow="POST"), ""
    standin = exchange.standin
    standin.recorder.count(requests=1)
    fault = standin.script.next()
    if fault is not None:
        standin.recorder.count(faults_applied=1)
    note = f" fault={fault.kind}" if fault else ""
    try:
        raw = exchange.read_body()
    except BodyProblem as problem:
        standin.recorder.count(rejected_requests=1)
        exchange.reply_errors(problem.status, [ApiError(str(problem))], close=True)
        if problem.status == 413:
            exchange.drain_after_refusal()
        return problem.status, note
    if fault is not None:
        early = _early_fault(exchange, fault)
        if early is not None:
            return early, note
    outcome = process(standin, exchange.headers.get("Authorization"), raw)
    note = f" personalizations={outcome.personalizations}{note}"
    if fault is not None and fault.kind == "drop":
        exchange.close_connection = True  # accepted (maybe), yet nobody is told
        return 0, note
    if outcome.errors:
        exchange.reply_errors(outcome.status, outcome.errors)
    elif outcome.message_id is not None:
        exchange.reply(outcome.status, headers={"X-Message-Id": outcome.message_id})
    else:
        exchange.reply(outcome.status)
    return outcome.status, note


def _early_fault(exchange: Exchange, fault: Fault) -> int | None:
    """Apply a fault that answers before processing; None to carry on."""
    if fault.kind == "drop_before":
        exchange.close_connection = True
        return 0
    if fault.kind == "slow":
        exchange.standin.sleep(fault.seconds)
        return None
    if fault.kind == "rate_limit":
        headers: dict[str, str] = {}
        if fault.headers:
            headers = {
                "X-RateLimit-Limit": str(fault.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time() + fault.reset_in)),
            }
        message = fault.message or STATUS_MESSAGES[429]
        exchange.reply_errors(429, [ApiError(message)], headers)
        return 429
    if fault.kind == "error":
        message = fault.message or STATUS_MESSAGES[fault.status]
        exchange.reply_errors(fault.status, [ApiError(message)])
        return fault.status
    return None  # "drop" is applied after processing
