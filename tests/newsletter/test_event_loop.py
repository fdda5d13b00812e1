"""The whole loop, end to end: an issue sent through the real SendGrid backend to the
stand-in, the stand-in posting SendGrid's signed events to the real app under uvicorn
(`POST /webhooks/sendgrid`), and the app suppressing what bounced or complained, so the
next issue's audience leaves those addresses out. SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.registry import make_backend
from newsletter.devtools.standin import EventShares, PosterSettings, StandIn
from newsletter.devtools.standin.signing import WebhookSigner
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue
from newsletter.sending import send_issue
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.factories import comparison, tool, write_content
from tests.newsletter.sending.test_sender import KEY, add_subscribers, build

SHARES = EventShares(
    hard_bounces=0.02,
    soft_bounces=0.0,
    drops=0.0,
    deferrals=0.02,
    spam_reports=0.002,
    opens=0.3,
    machine_opens=0.3,
    clicks=0.2,
    duplicates=0.02,  # SendGrid's retries: each must be stored once
)
SEED = "8"  # with these 1,000 addresses: 20 hard bounces, 2 spam reports


def statuses(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        rows = session.connection().execute(text("SELECT email, status FROM subscriber"))
        return {email: status for email, status in rows}


def audience(engine: Engine, issue_id: int) -> set[str]:
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text(
                "SELECT s.email FROM send_recipient r JOIN subscriber s ON s.id = r.subscriber_id "
                "WHERE r.issue_id = :i"
            ),
            {"i": issue_id},
        )
        return {email for (email,) in rows}


def test_bounces_and_spam_reports_posted_by_the_stand_in_suppress_their_addresses(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    people = add_subscribers(engine, 1000)
    first = build(engine, settings, tmp_path / "content")
    signer = WebhookSigner()  # its public key goes to the app before the app's port is known
    settings.backend = "sendgrid"
    settings.sendgrid_api_key = KEY
    settings.sendgrid_timeout = 10
    settings.sendgrid_webhook_public_key = signer.public_key
    settings.batch_size = 250

    with serve(create_app(settings, engine)) as port:
        hook = f"http://127.0.0.1:{port}/webhooks/sendgrid"
        poster = PosterSettings(
            batch_size=500, interval=0.2, backoff=0.2, max_backoff=2, max_attempts=5
        )
        with StandIn(
            api_keys=[KEY],
            events_to=hook,
            event_shares=SHARES,
            seed=SEED,
            poster=poster,
            signer=signer,
        ) as standin:
            settings.sendgrid_host = standin.url
            report = send_issue(engine, first.number, settings, make_backend(settings))
            assert (report.audience, report.accepted) == (1000, 1000)
            feed = standin.events
            assert feed is not None
            assert feed.wait_posted(120), feed.as_json()
            posted = feed.post_stats()
            made = feed.made()

    # Every POST was taken at once: signed as the app expects, none refused.
    assert (posted.failures, posted.given_up) == (0, 0), posted
    assert posted.duplicates > 0  # and SendGrid's repeats were among them
    hard = {e["email"] for e in made if e["event"] == "bounce" and e["type"] == "bounce"}
    complained = {e["email"] for e in made if e["event"] == "spamreport"}
    assert len(hard) >= 15
    assert len(complained) >= 2
    now = statuses(engine)
    assert {email: now[email] for email in hard} == dict.fromkeys(hard, "bounced")
    assert {email: now[email] for email in complained} == dict.fromkeys(complained, "complained")
    untouched = set(people.active.values()) - hard - complained
    assert {now[email] for email in untouched} == {"active"}

    # The next issue's audience, snapshotted when its send starts, leaves them out.
    more = [
        comparison(f"n{i}", "2026-12-01", tools=[tool(f"n{i}-a"), tool(f"n{i}-b")])
        for i in range(3)
    ]
    write_content(tmp_path / "next", more)
    with session_scope(engine) as session:
        load_content(session, tmp_path / "next")
    with session_scope(engine) as session:
        second = build_issue(session, "2026-W49", settings).issue
    with StandIn(api_keys=[KEY]) as quiet:
        settings.sendgrid_host = quiet.url
        again = send_issue(engine, second.number, settings, make_backend(settings))
        sent_to = set(quiet.recipients())
    assert second.id is not None
    expected = untouched
    assert again.audience == len(expected)
    assert audience(engine, second.id) == expected
    assert not sent_to & (hard | complained)
