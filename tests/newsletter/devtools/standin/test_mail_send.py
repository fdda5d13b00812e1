"""POST /v3/mail/send through the real client: accepted, sandboxed, or refused for its key
or its encoding, with the status and exception SendGrid would give.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sendgrid
from python_http_client import exceptions as sg_errors

from newsletter.devtools.standin import StandIn
from tests.newsletter.devtools.standin.helpers import (
    KEY,
    error_fields,
    mail,
    raw_post,
    send,
)


def test_valid_request_is_accepted_and_recorded(standin: StandIn, sg: Any) -> None:
    response = send(sg, mail())

    assert response.status_code == 202
    assert response.body == b""
    message_id = response.headers["X-Message-Id"]
    assert len(message_id) == 22
    assert set(message_id) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )

    [accepted] = standin.requests
    assert accepted.message_id == message_id
    assert accepted.from_email == "verdicts@example.com"
    assert accepted.categories == ("newsletter",)
    assert accepted.text == "Hi -first-, unsubscribe: -unsub-"  # stored once, unsubstituted
    ada, grace = accepted.personalizations
    assert ada.to == ("ada@example.com",)
    assert ada.custom_args == {"issue": "42", "subscriber_id": "1"}
    assert grace.custom_args == {"issue": "override", "subscriber_id": "2"}
    assert grace.headers == {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "X-Test": "p1"}

    assert standin.recipients() == ["ada@example.com", "grace@example.com"]
    assert standin.rendered_for("ADA@example.com") == [
        (
            "Hi Ada, unsubscribe: https://x.test/u/ada",
            '<p>Hi Ada</p><a href="https://x.test/u/ada">unsubscribe</a>',
        )
    ]
    assert standin.subjects_for("grace@example.com") == ["For you, Grace"]
    assert standin.subjects_for("ada@example.com") == ["Issue 42"]
    assert standin.rendered_for("nobody@example.com") == []


def test_template_id_replaces_content_and_subject(standin: StandIn, sg: Any) -> None:
    body = mail()
    del body["content"], body["subject"]
    body["template_id"] = "d-0123456789abcdef"

    assert send(sg, body).status_code == 202
    assert standin.rendered_for("grace@example.com") == [("", "")]


def test_second_api_key_is_accepted(standin: StandIn) -> None:
    client = sendgrid.SendGridAPIClient(api_key="second-key", host=standin.url)
    client.client.timeout = 5
    assert send(client, mail()).status_code == 202


def test_sandbox_mode_answers_200_and_records_nothing(standin: StandIn, sg: Any) -> None:
    body = mail()
    body["mail_settings"] = {"sandbox_mode": {"enable": True}}

    response = send(sg, body)

    assert response.status_code == 200
    assert standin.requests == []
    stats = standin.stats()
    assert (stats.sandboxed_requests, stats.sandboxed_personalizations) == (1, 2)
    assert stats.accepted_requests == 0


def test_wrong_key_is_401(standin: StandIn) -> None:
    client = sendgrid.SendGridAPIClient(api_key="wrong", host=standin.url)
    client.client.timeout = 5

    with pytest.raises(sg_errors.UnauthorizedError) as caught:
        send(client, mail())

    assert caught.value.status_code == 401
    assert error_fields(caught.value) == [None]
    assert standin.requests == []


def test_missing_authorization_is_401(standin: StandIn) -> None:
    status, body = raw_post(standin, json.dumps(mail()).encode(), {})
    assert status == 401
    assert json.loads(body)["errors"][0]["field"] is None


def test_invalid_utf8_is_415_and_non_json_is_400(standin: StandIn) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    assert raw_post(standin, b'{"subject": "\xff"}', auth)[0] == 415
    assert raw_post(standin, b"{not json", auth)[0] == 400
    assert raw_post(standin, b"NaN", auth)[0] == 400
