"""Providers' event webhooks: `POST /webhooks/sendgrid`.

The route checks, in order: that a key is configured (503 otherwise: unsigned events are
never taken), the body's size (413 past `WEBHOOK_MAX_BYTES`, from Content-Length before
anything is read, else while streaming), the signature (403, the same answer for every
cause), the body's shape (400 naming the problem); then `tracking.ingest` applies the
events in one transaction and the answer counts what they came to. Each refusal is an
error of `delivery.events`, answered through the app's one mapping (`errors`).

Nothing else guards these routes: the signature is their authentication, so no admin
token and no form token; the sign-up rate limit is the form's alone.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Final

from anyio import to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from newsletter.core.metrics import Metrics, count
from newsletter.delivery.events import (
    WEBHOOK_MAX_BYTES,
    EventWebhook,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRefused,
    WebhookTooLarge,
)
from newsletter.tracking import Applied, ingest
from newsletter.web.deps import Services, ServicesDep

PREFIX = "/webhooks"
SENDGRID = "sendgrid"  # the provider's name in the registry (`delivery.registry.WEBHOOKS`)

router = APIRouter(prefix=PREFIX, tags=["webhooks"])

REJECTED: Final = {
    WebhookNotConfigured: "not_configured",
    WebhookTooLarge: "too_large",
    WebhookRefused: "signature",
    WebhookMalformed: "malformed",
}
"""The reason each refusal is counted under (`core.metrics.REJECT_REASONS`)."""


class Received(BaseModel):
    """What one POST's events came to (`tracking.Applied`, as counts)."""

    received: int
    stored: int
    duplicates: int
    unmatched: int
    settled: int
    suppressed: int
    unsubscribed: int
    paused: int

    @classmethod
    def of(cls, applied: Applied) -> Received:
        return cls(
            received=applied.received,
            stored=applied.stored,
            duplicates=applied.duplicates,
            unmatched=applied.unmatched,
            settled=applied.settled,
            suppressed=len(applied.suppressed),
            unsubscribed=len(applied.unsubscribed),
            paused=len(applied.paused),
        )


@router.post(f"/{SENDGRID}", summary="SendGrid's signed event webhook")
async def sendgrid(request: Request, services: ServicesDep) -> Received:
    """Events posted by SendGrid, signed with its key (`SENDGRID_WEBHOOK_PUBLIC_KEY`)."""
    return await receive(request, services, SENDGRID)


async def receive(request: Request, services: Services, provider: str) -> Received:
    try:
        webhook = services.webhooks.get(provider)
        if webhook is None:
            raise WebhookNotConfigured(f"the {provider} event webhook has no key: nothing is taken")
        body = await read_body(request, WEBHOOK_MAX_BYTES)
        applied = await to_thread.run_sync(apply, webhook, services, body, request.headers)
    except tuple(REJECTED) as exc:
        reason = next(name for kind, name in REJECTED.items() if isinstance(exc, kind))
        count(lambda m: m.events_rejected.labels(reason).inc())
        raise
    return Received.of(applied)


def apply(
    webhook: EventWebhook, services: Services, body: bytes, headers: Mapping[str, str]
) -> Applied:
    """Verify, parse, ingest: in a worker thread, so a large body's signature and JSON do
    not hold up the other requests, and the database is written outside the event loop."""
    webhook.verify(body, headers, now=time.time())
    events = webhook.parse(body)
    applied = ingest(services.engine, services.settings, events)
    kinds = Counter(event.type.value for event in events)

    def taken(m: Metrics) -> None:
        for kind, n in kinds.items():
            m.events_ingested.labels(kind).inc(n)

    count(taken)
    return applied


async def read_body(request: Request, limit: int) -> bytes:
    """The body, never more than `limit` bytes of it read: a declared length over it is
    refused before reading, and a body without one (chunked) as soon as it passes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 15 or int(declared) > limit):
        raise WebhookTooLarge(f"the body is {declared} bytes (at most {limit})")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise WebhookTooLarge(f"the body is over {limit} bytes")
    except ClientDisconnect:
        raise WebhookMalformed("the body ended before it was complete") from None
    return bytes(body)
