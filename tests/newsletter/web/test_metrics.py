"""GET /metrics on the real app under uvicorn, on both databases: the admin token guards it
(401 without, 503 when none is configured), a real send through the stand-in shows in the
ledger's figures and the SendGrid latency, webhook refusals and events are counted, so are
sign-ups, votes and unsubscribes, and with a metrics port of its own the app has no
/metrics at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from newsletter.core.metrics import scrape
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from newsletter.devtools.standin.signing import WebhookSigner
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.newsletter.analytics.helpers import sent_with_trouble
from tests.newsletter.delivery.providers.sendgrid.event_samples import body, event
from tests.newsletter.sending.test_sender import KEY
from tests.newsletter.web.helpers import ADMIN
from tests.newsletter.web.link_kinds import every_link

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(found: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (n, got), value in found.items() if n == name and wanted <= set(got))


def here() -> Samples:
    """This process's per-process figures now (the app under test runs in it too)."""
    return samples(scrape(None).decode())


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=[KEY]) as running:
        yield running


def test_the_metrics_need_the_admin_token(http: httpx.Client) -> None:
    missing = http.get("/metrics")
    wrong = http.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    right = http.get("/metrics", headers=ADMIN)

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_without_an_admin_token_the_metrics_are_off(settings: Settings, engine: Engine) -> None:
    settings.admin_token = ""
    with serve(create_app(settings, engine)) as port:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=ADMIN, trust_env=False)
    assert answer.status_code == 503
    assert "set NEWSLETTER_ADMIN_TOKEN to turn it on" in answer.text


def test_the_metrics_count_a_send(
    http: httpx.Client, engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    before = here()
    sent_with_trouble(engine, settings, standin, tmp_path / "content", leave=1)

    answer = http.get("/metrics", headers=ADMIN)

    assert answer.status_code == 200, answer.text
    found = samples(answer.text)
    recipients = {
        outcome: total(found, "newsletter_recipients", outcome=outcome)
        for outcome in ("accepted", "failed", "unknown", "skipped", "queued")
    }
    assert recipients == {"accepted": 29, "failed": 10, "unknown": 10, "skipped": 1, "queued": 0}
    batches = {
        state: total(found, "newsletter_batches", state=state)
        for state in ("accepted", "failed", "unknown", "pending", "in_flight", "retryable")
    }
    assert batches == {
        "accepted": 3,
        "failed": 1,
        "unknown": 1,
        "pending": 0,
        "in_flight": 0,
        "retryable": 0,
    }
    assert total(found, "newsletter_batches", state="accepted", attempts="1") == 3
    # Five requests: three answered 202, one answered 400, one whose connection dropped.
    requests = "newsletter_sendgrid_request_seconds_count"
    answered = total(found, requests, outcome="answered") - total(
        before, requests, outcome="answered"
    )
    failed = total(found, requests, outcome="failed") - total(before, requests, outcome="failed")
    assert (answered, failed) == (4, 1)


def test_webhook_refusals_and_events_are_counted(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    signer = WebhookSigner()
    settings.sendgrid_webhook_public_key = signer.public_key
    settings.admin_token = "admin-test-token"
    events = body(event("processed"), event("delivered"), event("delivered"))
    before = here()
    with (
        serve(create_app(settings, engine)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as http,
    ):
        forged = {**signer.headers(events), "X-Twilio-Email-Event-Webhook-Timestamp": "1"}
        refused = http.post("/webhooks/sendgrid", content=events, headers=forged)
        taken = http.post("/webhooks/sendgrid", content=events, headers=signer.headers(events))
        malformed = b"{not json"
        broken = http.post(
            "/webhooks/sendgrid", content=malformed, headers=signer.headers(malformed)
        )
        found = samples(http.get("/metrics", headers=ADMIN).text)

    assert (refused.status_code, taken.status_code, broken.status_code) == (403, 200, 400)

    def grew(name: str, **labels: str) -> float:
        return total(found, name, **labels) - total(before, name, **labels)

    rejected = "newsletter_events_rejected_total"
    assert grew(rejected, reason="signature") == 1
    assert grew(rejected, reason="malformed") == 1
    assert grew(rejected, reason="too_large") == grew(rejected, reason="not_configured") == 0
    ingested = "newsletter_events_ingested_total"
    assert (grew(ingested, type="processed"), grew(ingested, type="delivered")) == (1, 2)


def test_with_a_metrics_port_the_app_has_no_metrics(settings: Settings, engine: Engine) -> None:
    settings.admin_token = "admin-test-token"
    settings.metrics_port = 9  # served by `newsletter serve` itself, never by the app
    with serve(create_app(settings, engine)) as port:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=ADMIN, trust_env=False)
    assert answer.status_code == 404


def test_sign_ups_votes_and_unsubscribes_are_counted(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    links = every_link(engine, settings, tmp_path)
    before = here()
    one_click = {"Content-Type": "application/x-www-form-urlencoded"}

    vote = links.vote.removeprefix(settings.site_url)
    unsubscribe = links.unsubscribe.removeprefix(settings.site_url)
    answers = [
        http.post(vote),
        http.post(vote),  # the same vote again changes nothing
        http.post(unsubscribe, content=b"List-Unsubscribe=One-Click", headers=one_click),
        http.post(unsubscribe, content=b"List-Unsubscribe=One-Click", headers=one_click),  # again
        http.post("/subscribe", data={"email": "new.reader@example.com"}),
        http.post("/subscribe", data={"email": "bot@example.com", "website": "x"}),  # honeypot
    ]
    found = samples(http.get("/metrics", headers=ADMIN).text)

    assert [answer.status_code for answer in answers] == [200] * 6
    grown = {
        name: total(found, name) - total(before, name)
        for name in ("newsletter_votes_total", "newsletter_unsubscribes_total")
    }
    assert grown == {"newsletter_votes_total": 1, "newsletter_unsubscribes_total": 1}
    assert total(found, "newsletter_signups_total") - total(before, "newsletter_signups_total") == 1
