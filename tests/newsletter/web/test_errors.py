"""The one error mapping: kinds to status codes, JSON under /api/, a page elsewhere."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.errors import Conflict, InvalidInput, NewsletterError, NotFound, Refused
from newsletter.core.settings import Settings
from newsletter.links.tokens import ExpiredToken, Signer, TokenError
from newsletter.web.app import create_app
from newsletter.web.errors import status_for
from subscribers.models import Source
from subscribers.service import add_subscriber
from tests.conftest import serve
from tests.newsletter.web.helpers import (
    issue_for,
    snapshot,
)


def test_forged_expired_and_wrong_purpose_tokens_change_nothing(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        sub = add_subscriber(session, "victim@example.com", source=Source.CLI, confirmed=False)
        session.flush()
        sid = sub.id or 0
    issue = issue_for(engine, settings, tmp_path, "2026-W48", ["one"], "2026-11-24")
    signer = Signer(settings.secret())
    other = Signer(b"someone else's key")
    vote = signer.vote_token(sid, issue.id or 0, 1, 1)
    unsubscribe = signer.unsubscribe_token(sid, issue.id or 0)
    before = snapshot(engine)
    attempts = [
        ("get", f"/confirm/{other.confirm_token(sid)}", 400),  # forged
        ("get", f"/confirm/{signer.confirm_token(sid, now=0)}", 410),  # expired
        ("get", f"/confirm/{unsubscribe}", 400),  # wrong purpose
        ("get", f"/confirm/{vote[:-2]}xx", 400),  # damaged
        ("get", "/confirm/not-a-token", 400),
        ("post", f"/confirm/{other.confirm_token(sid)}", 400),  # the button's POST, forged
        ("post", f"/confirm/{signer.confirm_token(sid, now=0)}", 410),
        ("post", f"/unsubscribe/{other.unsubscribe_token(sid)}", 400),
        ("post", f"/unsubscribe/{signer.confirm_token(sid)}", 400),
        ("post", f"/unsubscribe/{vote}", 400),
        ("post", f"/resubscribe/{vote}", 400),
        ("get", f"/vote/{unsubscribe}", 400),
        ("get", f"/vote/{other.vote_token(sid, issue.id or 0, 1, 1)}", 400),
        ("post", f"/vote/{unsubscribe}", 400),
        ("post", f"/vote/{other.vote_token(sid, issue.id or 0, 1, 1)}", 400),
        ("get", f"/unsubscribe/{vote}", 400),
        ("get", f"/resubscribe/{other.unsubscribe_token(sid)}", 400),
    ]
    for method, path, code in attempts:
        response = http.request(method, path)
        assert response.status_code == code, (path, response.status_code)
        assert "Nothing was changed" in response.text or "expired" in response.text
    assert snapshot(engine) == before


class _Duplicate(Conflict):
    pass


def test_each_kind_has_its_status_and_a_few_classes_their_own() -> None:
    assert status_for(NotFound("x")) == 404
    assert status_for(Conflict("x")) == 409
    assert status_for(InvalidInput("x")) == 422
    assert status_for(Refused("x")) == 403
    assert status_for(NewsletterError("x")) == 400
    assert status_for(TokenError("x")) == 400  # a Refused kind with a code of its own
    assert status_for(ExpiredToken("x")) == 410
    assert status_for(_Duplicate("x")) == 409
    assert status_for(_Duplicate("x"), {Conflict: 422}) == 422  # a route's own contract
    assert status_for(NotFound("x"), {Conflict: 422}) == 404


def test_json_under_api_and_the_message_page_elsewhere(settings: Settings, engine: Engine) -> None:
    app = create_app(settings, engine)

    def fail() -> None:
        raise _Duplicate("that is already there")

    app.add_api_route("/api/fail", fail)
    app.add_api_route("/fail", fail)
    with (
        serve(app) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client,
    ):
        api = client.get("/api/fail")
        assert (api.status_code, api.json()) == (409, {"detail": "that is already there"})
        page = client.get("/fail")
        assert page.status_code == 409
        assert page.headers["content-type"].startswith("text/html")
        assert "that is already there" in page.text
        assert 'role="status"' in page.text
