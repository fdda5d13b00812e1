"""An issue's frozen snapshot, whatever its age, is filled with each recipient's one-token
links: by the personaliser itself (the outbox, a test send, the preview) and by the SendGrid
request, which carries the token alone per recipient (through the real client to the
stand-in). A snapshot written with the per-link markers (every issue rendered so far, and a
send resumed on one) and one written around the token itself are filled alike."""

from __future__ import annotations

import email
import gc
import pickle
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from newsletter.core.settings import Settings
from newsletter.delivery import Message, PersonalizedBatch, placeholders
from newsletter.delivery.headers import LIST_UNSUBSCRIBE
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.delivery.providers.sendgrid import SendGridBackend, encoding
from newsletter.delivery.providers.sendgrid.links import MARK
from newsletter.devtools.standin import StandIn
from newsletter.links.personalize import SAMPLE_SUBSCRIBER_ID, Personalizer, vote_slots
from newsletter.links.tokens import Purpose, Signer
from newsletter.publishing.models import Issue
from newsletter.sending.message import action_urls

SITE = "https://verdicts.example.com"
KEY = "test-key"
SECRET = b"secret"
# A snapshot as every issue so far was frozen: one marker per personal link, ids inside.
MARKED_HTML = (
    '<p><a href="%%view_url%%" class="link">View in your browser</a></p>'
    '<p><a href="%%vote_11_21%%" class="vote">Vote Alpha</a> '
    '<a href="%%vote_11_22%%" class="vote">Vote Beta</a> '
    '<a href="https://alpha.example/">Alpha\'s site</a></p>'
    '<p><a href="%%unsubscribe_url%%" class="link">Unsubscribe with one click</a></p>'
)
MARKED_TEXT = (
    "View in your browser: %%view_url%%\n"
    "Vote Alpha: %%vote_11_21%%\nVote Beta: %%vote_11_22%%\n"
    "Unsubscribe with one click: %%unsubscribe_url%%\n"
)
# The same written around the token (what a template may write directly).
TOKEN_HTML = (
    MARKED_HTML.replace("%%view_url%%", f"{SITE}/issues/7")
    .replace("%%vote_11_21%%", f"{SITE}/vote/%%t%%/11/21")
    .replace("%%vote_11_22%%", f"{SITE}/vote/%%t%%/11/22")
    .replace("%%unsubscribe_url%%", f"{SITE}/unsubscribe/%%t%%")
)
TOKEN_TEXT = (
    MARKED_TEXT.replace("%%view_url%%", f"{SITE}/issues/7")
    .replace("%%vote_11_21%%", f"{SITE}/vote/%%t%%/11/21")
    .replace("%%vote_11_22%%", f"{SITE}/vote/%%t%%/11/22")
    .replace("%%unsubscribe_url%%", f"{SITE}/unsubscribe/%%t%%")
)
SETTINGS = Settings(site_url=SITE, _env_file=None)  # type: ignore[call-arg]
ROWS = [(5, "ada@example.com", "Ada"), (2_000_000, "grace@example.com", None)]


def _expected(token: str) -> tuple[str, str]:
    """The snapshot as recipient `token` must read it."""
    text = TOKEN_TEXT.replace(placeholders.TOKEN, token)
    return text, TOKEN_HTML.replace(placeholders.TOKEN, token)


def _personalizer(html: str, text: str) -> Personalizer:
    issue = Issue(id=3, number=7, week="2026-W48", html=html, text=text)
    return Personalizer(issue, vote_slots(issue), SETTINGS, Signer(SECRET))


def _message(html: str, text: str) -> Message:
    return Message(
        subject="Verdicts #7",
        html=html,
        text=text,
        from_email="verdicts@example.com",
        from_name="Weekly AI Tool Verdicts",
        custom_args={"issue": "7", "batch": "1"},
        tracking=True,
        action_urls=action_urls(SETTINGS, 7),  # as the send's message has them
    )


SNAPSHOTS = pytest.mark.parametrize(
    ("html", "text"),
    [(MARKED_HTML, MARKED_TEXT), (TOKEN_HTML, TOKEN_TEXT)],
    ids=["marked", "token"],
)


@SNAPSHOTS
def test_the_personaliser_fills_every_link_from_the_one_token(html: str, text: str) -> None:
    p = _personalizer(html, text)
    for sid, address, name in [*ROWS, (SAMPLE_SUBSCRIBER_ID, "editor@example.com", None)]:
        recipient = p.recipient(sid, address, name)
        token = recipient.substitutions[placeholders.TOKEN]
        assert Signer(SECRET).verify(Purpose.RECIPIENT, token) == (sid, 3)
        filled = (
            placeholders.fill(text, recipient.substitutions),
            placeholders.fill(html, recipient.substitutions),
        )
        assert filled == _expected(token)
        assert recipient.headers[LIST_UNSUBSCRIBE] == f"<{SITE}/unsubscribe/{token}>"
        # What a request sends instead: the snapshot compacted once, the token per recipient.
        assert placeholders.fill(p.compact(html), {placeholders.TOKEN: token}) == filled[1]
    again = pickle.loads(pickle.dumps(p))  # noqa: S301 - as a build process gets it
    assert again.recipient(*ROWS[1]) == p.recipient(*ROWS[1])


def test_a_build_process_keeps_one_personaliser_and_template_per_send() -> None:
    """A build process gets the personaliser pickled with every batch: the copies are one
    object, and a request's template (with its compacted HTML) neither leaks per batch nor
    outlives the sends it served."""
    p = _personalizer(MARKED_HTML, MARKED_TEXT)
    message = _message(MARKED_HTML, MARKED_TEXT)
    before = len(encoding._templates)
    bodies = set()
    for _ in range(20):
        again = pickle.loads(pickle.dumps(p))  # noqa: S301 - as a build process gets it
        bodies.add(encoding.encode_request(message, PersonalizedBatch(again, ROWS)))
    assert len(bodies) == 1
    assert pickle.loads(pickle.dumps(p)) is again  # noqa: S301
    assert len(encoding._templates) <= before + 1
    other = _personalizer(MARKED_HTML, MARKED_TEXT)  # not pickled: not kept by the process
    encoding.encode_request(message, PersonalizedBatch(other, ROWS))
    del other
    gc.collect()
    assert len(encoding._templates) <= before + 1


@SNAPSHOTS
def test_a_sendgrid_request_fills_the_snapshot_with_one_substitution_each(
    html: str, text: str
) -> None:
    p = _personalizer(html, text)
    with StandIn(api_keys=[KEY]) as standin:
        SendGridBackend(KEY, standin.url, 10).send_batch(
            _message(html, text), PersonalizedBatch(p, ROWS)
        )
        [request] = standin.requests
    for (sid, address, _), personalization in zip(ROWS, request.personalizations, strict=True):
        token = p.token(sid)
        assert personalization.to == (address,)
        assert personalization.substitutions == {placeholders.TOKEN: token}
        assert personalization.headers[LIST_UNSUBSCRIBE] == f"<{SITE}/unsubscribe/{token}>"
        assert personalization.custom_args == {"issue": "7", "batch": "1", "subscriber": str(sid)}
        got_text, got_html = request.render(personalization)
        assert got_text == _expected(token)[0]
        # Click tracking is on: every personal link is marked to be left alone, the tool's
        # site is not.
        assert got_html == _expected(token)[1].replace(
            '<a href="https://verdicts', f'<a{MARK} href="https://verdicts'
        )
        assert got_html.count(MARK) == 4


@SNAPSHOTS
def test_the_outbox_fills_the_snapshot_alike(html: str, text: str, tmp_path: Path) -> None:
    p = _personalizer(html, text)
    OutboxBackend(tmp_path).send_batch(_message(html, text), PersonalizedBatch(p, ROWS[:1]))
    [path] = list(tmp_path.rglob("*.eml"))
    parsed = email.message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    text_part, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text_part is not None
    assert html_part is not None
    expected_text, expected_html = _expected(p.token(ROWS[0][0]))
    assert text_part.get_content().replace("\r\n", "\n") == expected_text
    assert html_part.get_content().rstrip() == expected_html
