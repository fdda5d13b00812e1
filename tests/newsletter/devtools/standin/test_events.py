"""The stand-in's event webhook (`--events-to`): what it posts about what it accepted, to a
real receiver that checks each signature with `cryptography` and the printed public key."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
import sendgrid

from newsletter.devtools.standin import EventShares, PosterSettings, StandIn
from newsletter.devtools.standin.events import draw_fate
from tests.newsletter.devtools.standin.helpers import KEY, control, mail, send
from tests.newsletter.devtools.standin.receiver import Receiver, receiving

QUIET = EventShares(
    hard_bounces=0,
    soft_bounces=0,
    deferrals=0,
    spam_reports=0,
    opens=0,
    machine_opens=0,
    clicks=0,
    duplicates=0,
)
FAST = PosterSettings(interval=0.05, backoff=0.05, max_backoff=0.2, timeout=5)
FINAL = {"delivered", "bounce", "dropped"}
COMMON = {"email", "timestamp", "event", "sg_event_id", "sg_message_id", "smtp-id"}


@contextmanager
def feeding(
    receiver: Receiver,
    shares: EventShares = QUIET,
    *,
    seed: str | None = "1",
    poster: PosterSettings = FAST,
) -> Iterator[tuple[StandIn, sendgrid.SendGridAPIClient]]:
    standin = StandIn(
        api_keys=(KEY,), events_to=receiver.url, event_shares=shares, seed=seed, poster=poster
    )
    assert standin.events is not None
    receiver.public_key = standin.events.public_key
    with standin:
        client = sendgrid.SendGridAPIClient(api_key=KEY, host=standin.url)
        client.client.timeout = 10
        yield standin, client


def bulk(count: int, *, html: str = "<p>Hi</p>", start: int = 0) -> dict[str, Any]:
    """One request of `count` personalizations, custom_args as the sender sets them."""
    return {
        "personalizations": [
            {
                "to": [{"email": f"reader{start + i}@example.com"}],
                "custom_args": {"subscriber": str(start + i + 1)},
                "substitutions": {"%%unsubscribe_url%%": f"https://x.test/unsubscribe/t{i}"},
            }
            for i in range(count)
        ],
        "from": {"email": "verdicts@example.com"},
        "subject": "Issue 7",
        "content": [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": html}],
        "custom_args": {"issue": "7", "batch": "0"},
        "categories": ["newsletter", "issue-7"],
    }


def posted(standin: StandIn, timeout: float = 30) -> None:
    assert standin.events is not None
    assert standin.events.wait_posted(timeout), standin.events.as_json()


def by_email(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        grouped.setdefault(event["email"], []).append(event)
    return grouped


def test_events_are_signed_and_carry_what_sendgrid_sends() -> None:
    with receiving() as receiver, feeding(receiver) as (standin, sg):
        answer = send(sg, mail())
        posted(standin)
    message_id = answer.headers["X-Message-Id"]
    assert receiver.posts
    assert all(post.signed for post in receiver.posts)
    events = receiver.events()
    assert [(e["email"], e["event"]) for e in events] == [
        ("Ada@Example.com", "processed"),
        ("Ada@Example.com", "delivered"),
        ("grace@example.com", "processed"),
        ("grace@example.com", "delivered"),
    ]
    for event in events:
        assert set(event) >= COMMON
        assert isinstance(event["timestamp"], int)
        assert abs(event["timestamp"] - time.time()) < 60
        assert event["sg_message_id"].startswith(message_id + ".")
        assert event["category"] == "newsletter"  # one category: a string, as SendGrid does
    assert len({e["sg_event_id"] for e in events}) == 4
    # custom_args come back as top-level keys, the personalization's over the request's
    ada, grace = events[0], events[2]
    assert (ada["issue"], ada["subscriber_id"]) == ("42", "1")
    assert (grace["issue"], grace["subscriber_id"]) == ("override", "2")
    assert ada["sg_message_id"] != grace["sg_message_id"]
    assert events[1]["response"].startswith("250")


def test_a_seed_makes_the_shares_reproducible_and_each_recipient_gets_one_outcome() -> None:
    shares = EventShares(
        hard_bounces=0.1,
        soft_bounces=0.05,
        drops=0.05,
        deferrals=0.1,
        spam_reports=0.02,
        opens=0.5,
        machine_opens=0.3,
        clicks=0.4,
        duplicates=0,
    )
    html = '<a href="https://tools.example/a">A</a>'
    outcomes: list[dict[str, tuple[str, ...]]] = []
    for seed in ("7", "7", "8"):
        with receiving() as receiver, feeding(receiver, shares, seed=seed) as (standin, sg):
            send(sg, bulk(1000, html=html))
            posted(standin)
        grouped = by_email(receiver.events())
        assert len(grouped) == 1000
        outcomes.append({email: tuple(e["event"] for e in evs) for email, evs in grouped.items()})
    assert outcomes[0] == outcomes[1]  # same seed, same fates
    assert outcomes[0] != outcomes[2]
    finals = Counter[str]()
    for sequence in outcomes[0].values():
        assert sequence[0] == "processed"
        ends = [kind for kind in sequence if kind in FINAL]
        assert len(ends) == 1, sequence  # exactly one final delivery outcome each
        finals[ends[0]] += 1
        rank = ["processed", "deferred", ends[0], "open", "click", "spamreport"]
        assert [rank.index(kind) for kind in sequence] == sorted(rank.index(k) for k in sequence)
        if ends[0] != "delivered":
            assert set(sequence) <= {"processed", "deferred", ends[0]}
    every = Counter(kind for sequence in outcomes[0].values() for kind in set(sequence))
    assert 60 <= finals["bounce"] <= 240  # hard 10% + soft 5% of 1,000
    assert 20 <= finals["dropped"] <= 85
    assert 300 <= every["open"] <= 520
    assert 70 <= every["click"] <= 250
    assert 40 <= every["deferred"] <= 170
    assert 5 <= every["spamreport"] <= 40
    # The fate is the one `draw_fate` gives the address under the seed, whatever the order.
    fate = draw_fate(shares, "7", "reader3@example.com")
    expected_end = {"delivered": "delivered", "hard": "bounce", "soft": "bounce"}
    assert expected_end.get(fate.outcome, "dropped") in outcomes[0]["reader3@example.com"]


def test_bounces_drops_opens_and_clicks_carry_their_details() -> None:
    shares = EventShares(
        hard_bounces=0.25,
        soft_bounces=0.25,
        drops=0.25,
        deferrals=1.0,
        spam_reports=1.0,
        opens=1.0,
        machine_opens=0.5,
        clicks=1.0,
        duplicates=0,
    )
    html = (
        '<a href="https://tools.example/t?a=1&amp;b=2">tool</a>'
        '<a clicktracking="off" href="https://tools.example/untracked">no</a>'
        '<a href="%%unsubscribe_url%%">unsubscribe</a>'
        '<a href="https://x.test/vote/abc">vote</a>'
        '<a href="mailto:editor@example.com">write</a>'
    )
    with receiving() as receiver, feeding(receiver, shares) as (standin, sg):
        send(sg, bulk(200, html=html))
        posted(standin)
    events = receiver.events()
    kinds = Counter(e["event"] for e in events)
    assert kinds["bounce"]
    assert kinds["dropped"]
    assert kinds["open"]
    assert kinds["click"]
    for event in events:
        if event["event"] == "bounce" and event["type"] == "bounce":
            assert (event["status"], event["bounce_classification"]) == ("5.1.1", "Invalid Address")
        elif event["event"] == "bounce":
            assert event["type"] == "blocked"
            assert event["bounce_classification"] == "Reputation"
        elif event["event"] == "dropped":
            assert event["reason"] == "Bounced Address"
        elif event["event"] == "deferred":
            assert event["attempt"] in ("1", "2", "3")
            assert event["response"]
        elif event["event"] == "open":
            assert isinstance(event["sg_machine_open"], bool)
            assert event["useragent"]
        elif event["event"] == "click":
            assert event["url"] == "https://tools.example/t?a=1&b=2"  # the one tracked link
    machine = Counter(e["sg_machine_open"] for e in events if e["event"] == "open")
    assert machine[True]
    assert machine[False]
    assert {e["type"] for e in events if e["event"] == "bounce"} == {"bounce", "blocked"}


def test_addresses_that_bounced_or_complained_are_dropped_next_time() -> None:
    """As SendGrid keeps its own suppression lists: every address here either hard-bounces
    or reports spam the first time, and is dropped for that reason the second."""
    shares = replace(QUIET, hard_bounces=0.5, spam_reports=1.0)
    with receiving() as receiver, feeding(receiver, shares) as (standin, sg):
        send(sg, bulk(20))
        posted(standin)
        first = by_email(receiver.events())
        send(sg, bulk(20))
        posted(standin)
    second = by_email(receiver.events()[sum(len(evs) for evs in first.values()) :])
    reasons = {"bounce": "Bounced Address", "spamreport": "Spam Reporting Address"}
    assert {evs[-1]["event"] for evs in first.values()} == set(reasons)
    for email, events in first.items():
        again = second[email]
        assert [e["event"] for e in again] == ["processed", "dropped"]
        assert again[1]["reason"] == reasons[events[-1]["event"]]


def test_a_refused_post_is_retried_with_a_fresh_signature_until_answered() -> None:
    with receiving() as receiver, feeding(receiver) as (standin, sg):
        receiver.answers.extend([500, 503])
        send(sg, mail())
        posted(standin)
        assert standin.events is not None
        stats = standin.events.post_stats()
    assert [post.status for post in receiver.posts] == [500, 503, 200]
    assert all(post.signed for post in receiver.posts)
    assert receiver.posts[0].events == receiver.posts[2].events  # the same batch again
    assert (stats.requests, stats.failures, stats.posted, stats.given_up) == (3, 2, 4, 0)


def test_an_unreachable_receiver_is_given_up_after_the_last_attempt() -> None:
    with receiving() as receiver:
        url = receiver.url
    closed = Receiver()
    closed.url = url  # nobody listens there any more
    poster = PosterSettings(interval=0.01, backoff=0.01, max_attempts=3, timeout=1)
    with feeding(closed, poster=poster) as (standin, sg):
        send(sg, mail())
        posted(standin)
        assert standin.events is not None
        stats = standin.events.post_stats()
    assert (stats.requests, stats.failures, stats.posted, stats.given_up) == (3, 3, 0, 4)


def test_duplicates_repeat_events_with_the_same_id_in_a_later_post() -> None:
    shares = replace(QUIET, duplicates=0.3)
    with receiving() as receiver, feeding(receiver, shares) as (standin, sg):
        send(sg, bulk(300))
        posted(standin)
        assert standin.events is not None
        stats = standin.events.post_stats()
    seen: dict[str, tuple[int, dict[str, Any]]] = {}
    repeats = 0
    for number, post in enumerate(receiver.accepted):
        for event in post.events:
            first = seen.get(event["sg_event_id"])
            if first is None:
                seen[event["sg_event_id"]] = (number, event)
                continue
            repeats += 1
            assert first[0] < number  # posted again later, not in the same POST
            assert first[1] == event
    assert len(seen) == 600
    assert repeats == stats.duplicates
    assert 120 <= repeats <= 240


def test_sandbox_requests_make_no_events() -> None:
    body = mail()
    body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    with receiving() as receiver, feeding(receiver) as (standin, sg):
        assert send(sg, body).status_code == 200
        posted(standin)
        time.sleep(0.2)  # longer than a batch may wait
        assert standin.events is not None
        assert standin.events.made() == []
    assert receiver.posts == []


def test_shutdown_is_prompt_while_the_receiver_hangs() -> None:
    poster = PosterSettings(interval=0.01, backoff=10, timeout=30, drain_seconds=0.5)
    with receiving() as receiver:
        receiver.hang = 30
        standin = StandIn(
            api_keys=(KEY,), events_to=receiver.url, event_shares=QUIET, poster=poster
        )
        standin.start()
        client = sendgrid.SendGridAPIClient(api_key=KEY, host=standin.url)
        send(client, mail())
        time.sleep(0.3)  # the POST is in flight, held by the receiver
        began = time.monotonic()
        standin.stop()
        assert time.monotonic() - began < 3


def test_shutdown_is_prompt_during_a_backoff() -> None:
    poster = PosterSettings(interval=0.01, backoff=60, timeout=5, drain_seconds=0.3)
    with receiving() as receiver:
        receiver.answers.extend([500] * 100)
        standin = StandIn(
            api_keys=(KEY,), events_to=receiver.url, event_shares=QUIET, poster=poster
        )
        receiver.public_key = standin.events.public_key if standin.events else ""
        with standin:
            send(sendgrid.SendGridAPIClient(api_key=KEY, host=standin.url), mail())
            time.sleep(0.3)
            began = time.monotonic()
        assert time.monotonic() - began < 2
        assert standin.events is not None
        assert standin.events.post_stats().given_up == 4


def test_the_control_route_reports_the_feed(standin: StandIn) -> None:
    with pytest.raises(Exception, match="409"):
        control(standin, "GET", "events")
    with receiving() as receiver, feeding(receiver) as (fed, sg):
        send(sg, mail())
        posted(fed)
        said = control(fed, "GET", "events")
    assert said["public_key"] == receiver.public_key
    assert said["made"] == {"processed": 2, "delivered": 2}
    assert said["post"]["posted"] == 4
    assert said["post"]["pending"] == 0


@pytest.mark.parametrize(
    ("shares", "says"),
    [
        ({"hard_bounces": 1.5}, "hard-bounces must be a share between 0 and 1"),
        ({"hard_bounces": 0.6, "drops": 0.6}, "must be at most 1"),
        ({"opens": -0.1}, "opens must be a share"),
    ],
)
def test_bad_shares_are_refused(shares: dict[str, float], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        EventShares(**shares)


def test_events_to_must_be_an_http_url() -> None:
    with pytest.raises(ValueError, match="events-to must be an http"):
        StandIn(events_to="ftp://example.com/hook")


def test_a_machine_open_is_never_followed_by_a_click() -> None:
    """Review finding: a machine's open (a privacy proxy's prefetch) went on to click, with
    the machine's user agent. Now only people who opened click."""
    shares = EventShares(opens=1.0, machine_opens=0.5, clicks=1.0, duplicates=0)
    html = '<a href="https://tools.example/t">tool</a>'
    with receiving() as receiver, feeding(receiver, shares) as (standin, sg):
        send(sg, bulk(100, html=html))
        posted(standin)
    people = by_email(receiver.events())
    machine = [e for e, evs in people.items() if any(x.get("sg_machine_open") for x in evs)]
    human = [e for e, evs in people.items() if any(x["event"] == "open" for x in evs)]
    human = [e for e in human if e not in machine]
    assert machine
    assert human
    assert not [e for e in machine if any(x["event"] == "click" for x in people[e])]
    assert all(any(x["event"] == "click" for x in people[e]) for e in human)
