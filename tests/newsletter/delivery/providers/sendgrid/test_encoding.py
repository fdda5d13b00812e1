"""The request the SendGrid provider builds, and the limits it refuses before sending: the
dict body, the message-level checks, and the sender's fast path, which delivers what the dict
body does with one substitution per recipient."""

from __future__ import annotations

import json
from typing import Any

import pytest

from newsletter.delivery import PersonalizedBatch, placeholders
from newsletter.delivery.providers.sendgrid import (
    LimitError,
    build_body,
    check_message,
    encode_request,
)
from newsletter.delivery.providers.sendgrid.encoding import display_name, tracking_settings
from tests.newsletter.delivery.providers.sendgrid.samples import (
    ROWS,
    message,
    personalizer,
    recipient,
)


def test_the_request_body_as_sendgrid_wants_it() -> None:
    body = build_body(message(), [recipient(1), recipient(2, name="Lovelace, Ada; Countess")])

    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["headers"] == {"List-Id": "Weekly AI Tool Verdicts <verdicts.example.com>"}
    assert body["categories"] == ["issue", "issue-7"]
    assert body["custom_args"] == {"issue": "7", "batch": "1"}
    first, second = body["personalizations"]
    assert first["to"] == [{"email": "reader1@example.com", "name": "Reader 1"}]
    assert second["to"][0]["name"] == "Lovelace Ada Countess"  # ';' and ',' are refused
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["custom_args"] == {"subscriber": "1"}
    assert "mail_settings" not in body
    sandboxed = build_body(message(sandbox=True), [recipient(1)])
    assert sandboxed["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_message_level_limits_stop_the_send() -> None:
    with pytest.raises(LimitError) as caught:
        check_message(message(categories=tuple(f"c{i}" for i in range(11))))
    assert caught.value.stops_send
    with pytest.raises(LimitError) as per_recipient:
        build_body(message(), [recipient(1, substitutions={"%%x%%": "y" * 10_001})])
    assert not per_recipient.value.stops_send


@pytest.mark.parametrize(
    ("stored", "sent"),
    [
        ("Lovelace, Ada; Countess", "Lovelace Ada Countess"),
        ("Ada\r\nBcc: eve@example.com", "Ada Bcc: eve@example.com"),
        ("\x1b]0;owned\x07Eve\x1b[2J", "Eve"),
        ("Nu\x00ll\u202e", "Null"),
        (" ,; \r\n", None),
        ("", None),
        (None, None),
    ],
)
def test_a_display_name_is_never_refused_nor_breaks_a_header(
    stored: str | None, sent: str | None
) -> None:
    """SendGrid refuses ';' and ',' in a recipient's name; names stored by older code may
    hold CR, LF and escape sequences. Both request paths send the same clean name."""
    assert display_name(stored) == sent
    (p,) = build_body(message(), [recipient(1, name=stored)])["personalizations"]
    assert p["to"][0].get("name") == sent
    fast = json.loads(
        encode_request(message(), PersonalizedBatch(personalizer(), [(1, "a@example.com", stored)]))
    )
    assert fast["personalizations"][0]["to"][0].get("name") == sent


# ------------------------------------------------------- the sender's fast request path


def delivered(body: dict[str, Any]) -> list[dict[str, Any]]:
    """What each recipient of a request gets, as SendGrid makes it: the content with the
    personalization's substitutions applied, its headers and custom_args merged over the
    request's."""
    text, html = (part["value"] for part in body["content"])
    return [
        {
            "to": p["to"],
            "text": placeholders.fill(text, p.get("substitutions", {})),
            "html": placeholders.fill(html, p.get("substitutions", {})),
            "headers": {**body.get("headers", {}), **p.get("headers", {})},
            "custom_args": {**body.get("custom_args", {}), **p.get("custom_args", {})},
        }
        for p in body["personalizations"]
    ]


@pytest.mark.parametrize("tracking", [True, False])
def test_the_fast_body_delivers_what_the_dict_body_does(tracking: bool) -> None:
    p = personalizer()
    batch = PersonalizedBatch(p, ROWS)
    msg = message(
        custom_args={"issue": "7", "batch": "12"},
        sandbox=True,
        tracking=tracking,
        html=TRACKED_HTML,
        text="Vote: %%vote_1_1%% Unsubscribe: %%unsubscribe_url%% Online: %%view_url%%",
        action_urls=("https://verdicts.example.com/vote/",),
    )
    recipients = [p.recipient(*row) for row in ROWS]

    fast = json.loads(encode_request(msg, batch))
    slow = build_body(msg, recipients)

    assert delivered(fast) == delivered(slow)
    assert {k: v for k, v in fast.items() if k not in ("personalizations", "content")} == {
        k: v for k, v in slow.items() if k not in ("personalizations", "content")
    }
    assert list(batch) == recipients  # any backend sees Recipients
    assert fast["tracking_settings"] == tracking_settings(tracking)
    assert fast["content"][1]["value"].count('clicktracking="off"') == 3
    # Per recipient: the one token, the List-Unsubscribe headers, the subscriber's id; the
    # issue is in the request's own custom_args.
    for personalization, recipient_ in zip(fast["personalizations"], recipients, strict=True):
        token = p.token(recipient_.subscriber_id)
        assert personalization["substitutions"] == {placeholders.TOKEN: token}
        assert personalization["headers"] == recipient_.headers
        assert personalization["custom_args"] == {"subscriber": str(recipient_.subscriber_id)}


def test_the_issue_is_in_each_personalization_unless_the_request_names_it() -> None:
    p = personalizer()
    for custom_args, expected in (
        ({"batch": "1"}, {"issue": "7", "subscriber": "1"}),
        ({"issue": "8", "batch": "1"}, {"issue": "7", "subscriber": "1"}),
        ({"issue": "7", "batch": "1"}, {"subscriber": "1"}),
    ):
        fast = json.loads(
            encode_request(message(custom_args=custom_args), PersonalizedBatch(p, ROWS[:1]))
        )
        assert fast["personalizations"][0]["custom_args"] == expected
        assert delivered(fast)[0]["custom_args"]["issue"] == "7"


# ------------------------------------------------------------------------------ tracking

TRACKED_HTML = (
    '<p><a href="https://tool.example/">a tool</a> '
    '<a href="%%vote_1_1%%">vote</a> <a href="https://verdicts.example.com/vote/x.y">vote</a> '
    '<a class="link" href="%%unsubscribe_url%%">unsubscribe</a></p>'
)


@pytest.mark.parametrize(
    ("tracking", "expected"),
    [
        (
            True,
            {
                "click_tracking": {"enable": True, "enable_text": False},
                "open_tracking": {"enable": True},
            },
        ),
        (
            False,
            {
                "click_tracking": {"enable": False, "enable_text": False},
                "open_tracking": {"enable": False},
            },
        ),
    ],
)
def test_every_request_states_its_tracking(tracking: bool, expected: dict[str, object]) -> None:
    """NEWSLETTER_TRACKING decides, not the account's defaults: on, opens and HTML clicks are
    tracked and text links never are (no link there can be marked); off, neither."""
    msg = message(tracking=tracking)
    assert build_body(msg, [recipient(1)])["tracking_settings"] == expected
    fast = encode_request(msg, PersonalizedBatch(personalizer(), ROWS[:1]))
    assert json.loads(fast)["tracking_settings"] == expected


def test_a_message_is_untracked_unless_its_maker_says_so() -> None:
    assert build_body(message(), [recipient(1)])["tracking_settings"] == tracking_settings(False)


def test_action_links_are_marked_in_the_request_and_content_links_are_not() -> None:
    msg = message(html=TRACKED_HTML, action_urls=("https://verdicts.example.com/vote/",))
    html = build_body(msg, [recipient(1)])["content"][1]["value"]
    assert html == (
        '<p><a href="https://tool.example/">a tool</a> '
        '<a clicktracking="off" href="%%vote_1_1%%">vote</a> '
        '<a clicktracking="off" href="https://verdicts.example.com/vote/x.y">vote</a> '
        '<a clicktracking="off" class="link" href="%%unsubscribe_url%%">unsubscribe</a></p>'
    )
    assert msg.html == TRACKED_HTML  # the message itself is left as it was
    assert build_body(msg, [recipient(1)])["content"][0]["value"] == msg.text  # text untouched


def test_the_fast_path_is_refused_like_the_dict_path() -> None:
    with pytest.raises(LimitError, match="categories"):
        encode_request(message(categories=("a",) * 11), PersonalizedBatch(personalizer(), ROWS))
    too_long = {"issue": "7", "note": "n" * 10_000}
    with pytest.raises(LimitError, match="custom_args"):
        encode_request(message(custom_args=too_long), PersonalizedBatch(personalizer(), ROWS))


def test_a_long_site_address_costs_a_recipient_nothing_more() -> None:
    """The links are laid out once per request: a long site address would once have pushed
    every vote link's substitution past SendGrid's 10,000 bytes; now a recipient carries the
    token alone."""
    p = personalizer(site="https://x.example/" + "p" * 2000)
    fast = json.loads(encode_request(message(), PersonalizedBatch(p, ROWS[:1])))
    assert fast["personalizations"][0]["substitutions"] == {placeholders.TOKEN: p.token(1)}


# ----------------------------------------------------------------------------- tokens
# The fast path writes tokens into the JSON unescaped and sizes them by TOKEN_MAX_CHARS:
# it relies on the token format these tests pin down.
