"""The name a confirmed subscriber is greeted by is the one they saw and confirmed: a
stranger who posted the form first (with words of their own as the name) cannot put them in
every issue's To: (a review found the first post's name kept through the confirmation)."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from tests.newsletter.sending.mailbox import confirm_token, outbox
from tests.newsletter.web.helpers import subscriber_of, wait_for

INSULT = "Claim your prize at evil.example"


def _stranger_posts_then_the_link(http: httpx.Client, settings: Settings) -> str:
    answer = http.post("/subscribe", data={"email": "jane@example.com", "name": INSULT})
    assert answer.status_code == 200
    wait_for(settings.outbox_dir, "*.eml")
    return "/confirm/" + confirm_token(outbox(settings.outbox_dir)["jane@example.com"])


def test_the_person_sees_the_name_and_confirms_their_own(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    link = _stranger_posts_then_the_link(http, settings)
    page = http.get(link)
    assert page.status_code == 200
    assert f'value="{INSULT}"' in page.text  # shown, to be checked, before the button

    done = http.post(link, data={"named": "1", "name": "Jane\x1b[2J Doe"})
    assert done.status_code == 200
    jane = subscriber_of(engine, "jane@example.com")
    assert jane is not None
    assert (jane.status, jane.name) == ("active", "Jane Doe")  # cleaned as every name
    assert jane.consent_ip == "127.0.0.1"  # the click's client, not the post's


def test_an_emptied_field_clears_the_name_and_a_bare_post_keeps_it(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    link = _stranger_posts_then_the_link(http, settings)
    assert http.post(link, data={"named": "1", "name": ""}).status_code == 200
    jane = subscriber_of(engine, "jane@example.com")
    assert jane is not None
    assert (jane.status, jane.name) == ("active", None)
    assert http.post(link).status_code == 200  # a second click, without the page's form
    jane = subscriber_of(engine, "jane@example.com")
    assert jane is not None
    assert jane.name is None
