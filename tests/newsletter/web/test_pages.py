"""The public pages and the admin API, driven over real HTTP against the real app."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage
from html import unescape
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.links.personalize import Personalizer, vote_slots
from newsletter.links.tokens import Signer
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue
from newsletter.publishing.models import Comparison, Issue, IssueStatus, Vote
from newsletter.sending.message import issue_message
from subscribers.models import Source, StatusChange, Subscriber
from subscribers.service import add_subscriber, find_subscriber
from tests.factories import comparison, tool, write_content

ADMIN = {"Authorization": "Bearer admin-test-token"}


@pytest.fixture
def http(live_app: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_app, trust_env=False, follow_redirects=False, timeout=10) as c:
        yield c


def _wait_for(folder: Path, pattern: str, count: int = 1) -> list[Path]:
    """Confirmation emails go out after the answer (a background task): wait for them."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = sorted(folder.rglob(pattern))
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no {pattern} in {folder}")


def _eml(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _subscriber(engine: Engine, address: str) -> Subscriber | None:
    with session_scope(engine) as session:
        return find_subscriber(session, address)


def _snapshot(engine: Engine) -> list[tuple]:
    """Everything a forged link could change."""
    with session_scope(engine) as session:
        subs = [(s.email, s.status, s.status_changed_at) for s in session.exec(select(Subscriber))]
        votes = [(v.subscriber_id, v.comparison_id, v.tool_id) for v in session.exec(select(Vote))]
        changes = session.exec(select(func.count()).select_from(StatusChange)).one()
    return [*subs, *votes, ("changes", changes)]


def _issue_for(
    engine: Engine, settings: Settings, tmp_path: Path, week: str, slugs: list[str], published: str
) -> Issue:
    root = tmp_path / "content"
    items = [
        comparison(slug, published, tools=[tool(f"{slug}-a"), tool(f"{slug}-b")]) for slug in slugs
    ]
    write_content(root, items)
    with session_scope(engine) as session:
        load_content(session, root)
    with session_scope(engine) as session:
        issue = build_issue(session, week, settings).issue
        issue.status = IssueStatus.SENT
    return issue


def _deliver(
    engine: Engine, settings: Settings, issue: Issue, addresses: list[str]
) -> dict[str, Path]:
    backend = OutboxBackend(settings.outbox_dir)
    with session_scope(engine) as session:
        personalizer = Personalizer(issue, vote_slots(issue), settings, Signer(settings.secret()))
        subs = [find_subscriber(session, a) for a in addresses]
        recipients = [personalizer.recipient(s.id or 0, s.email, s.name) for s in subs if s]
    message = issue_message(issue, settings)
    backend.send_batch(message, recipients)
    return {r.email: backend.path_for(message, r) for r in recipients}


def test_subscribe_confirm_receive_vote_unsubscribe(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    form = http.get("/subscribe")
    assert form.status_code == 200
    assert '<label for="email">' in form.text

    answer = http.post("/subscribe", data={"email": "Reader@Example.COM", "name": "Rea"})
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    pending = _subscriber(engine, "reader@example.com")
    assert pending is not None
    assert pending.status == "pending"
    assert pending.consent_ip == "127.0.0.1"

    confirmation = _wait_for(settings.outbox_dir, "*reader@example.com.eml")[0]
    confirm_url = re.search(r'href="([^"]+/confirm/[^"]+)"', _html(_eml(confirmation)))
    assert confirm_url is not None
    confirmed = http.get(confirm_url.group(1).removeprefix(settings.site_url))
    assert confirmed.status_code == 200
    assert "You're subscribed" in unescape(confirmed.text)
    again = http.get(confirm_url.group(1).removeprefix(settings.site_url))
    assert again.status_code == 200  # idempotent
    active = _subscriber(engine, "reader@example.com")
    assert active is not None
    assert active.status == "active"
    assert active.confirmed_at is not None

    issue = _issue_for(engine, settings, tmp_path, "2026-W48", ["one", "two"], "2026-11-24")
    received = _eml(_deliver(engine, settings, issue, ["reader@example.com"])["reader@example.com"])
    html = _html(received)
    votes = re.findall(r'href="(http://127\.0\.0\.1:\d+/vote/[^"]+)"', html)
    assert len(votes) == 4  # two tools in each of two comparisons

    first = http.get(votes[0].removeprefix(settings.site_url))
    assert first.status_code == 200
    assert "Thanks: your vote is" in first.text
    assert "100%" in first.text
    assert "(1 vote)" in first.text
    repeat = http.get(votes[0].removeprefix(settings.site_url))
    assert "You already voted" in repeat.text
    changed = http.get(votes[1].removeprefix(settings.site_url))
    assert "Thanks: your vote is" in changed.text
    with session_scope(engine) as session:
        rows = session.exec(select(Vote)).all()
    assert len(rows) == 1  # one vote per subscriber per comparison, changed by the second click

    # The next issue shows the community result of the last one.
    with session_scope(engine) as session:
        later = _issue_for(
            engine, settings, tmp_path / "later", "2026-W49", ["three"], "2026-12-01"
        )
        later_text = session.get(Issue, later.id).text  # type: ignore[union-attr]
    assert "The community voted: issue #1" in later_text
    assert "(1 vote)" in later_text

    unsubscribe = str(received["List-Unsubscribe"]).strip().strip("<>")
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = unsubscribe.removeprefix(settings.site_url)
    looked = http.get(path)
    assert looked.status_code == 200
    assert '<form method="post"' in looked.text
    still = _subscriber(engine, "reader@example.com")
    assert still is not None
    assert still.status == "active"  # a GET alone never unsubscribes

    one_click = http.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200  # never a redirect
    assert "You're unsubscribed" in unescape(one_click.text)
    gone = _subscriber(engine, "reader@example.com")
    assert gone is not None
    assert gone.status == "unsubscribed"
    assert "Re-subscribe" in one_click.text

    back = http.post(path.replace("/unsubscribe/", "/resubscribe/"))
    assert back.status_code == 200
    restored = _subscriber(engine, "reader@example.com")
    assert restored is not None
    assert restored.status == "active"


def test_forged_expired_and_wrong_purpose_tokens_change_nothing(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        sub = add_subscriber(session, "victim@example.com", source=Source.CLI, confirmed=False)
        session.flush()
        sid = sub.id or 0
    issue = _issue_for(engine, settings, tmp_path, "2026-W48", ["one"], "2026-11-24")
    signer = Signer(settings.secret())
    other = Signer(b"someone else's key")
    vote = signer.vote_token(sid, issue.id or 0, 1, 1)
    unsubscribe = signer.unsubscribe_token(sid, issue.id or 0)
    before = _snapshot(engine)
    attempts = [
        ("get", f"/confirm/{other.confirm_token(sid)}", 400),  # forged
        ("get", f"/confirm/{signer.confirm_token(sid, now=0)}", 410),  # expired
        ("get", f"/confirm/{unsubscribe}", 400),  # wrong purpose
        ("get", f"/confirm/{vote[:-2]}xx", 400),  # damaged
        ("get", "/confirm/not-a-token", 400),
        ("post", f"/unsubscribe/{other.unsubscribe_token(sid)}", 400),
        ("post", f"/unsubscribe/{signer.confirm_token(sid)}", 400),
        ("post", f"/unsubscribe/{vote}", 400),
        ("post", f"/resubscribe/{vote}", 400),
        ("get", f"/vote/{unsubscribe}", 400),
        ("get", f"/vote/{other.vote_token(sid, issue.id or 0, 1, 1)}", 400),
    ]
    for method, path, code in attempts:
        response = http.request(method, path)
        assert response.status_code == code, (path, response.status_code)
        assert "Nothing was changed" in response.text or "expired" in response.text
    assert _snapshot(engine) == before


def test_the_form_answers_the_same_for_known_and_unknown_addresses(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as session:
        add_subscriber(session, "known@example.com", source=Source.CLI, confirmed=True)
        add_subscriber(session, "bounced@example.com", source=Source.CLI, confirmed=True)
    with session_scope(engine) as session:
        from subscribers.status import change_status

        row = find_subscriber(session, "bounced@example.com")
        assert row is not None
        change_status(session, row, "bounced", reason="hard bounce", source=Source.WEBHOOK)  # type: ignore[arg-type]

    def body(address: str) -> tuple[int, str]:
        response = http.post("/subscribe", data={"email": address})
        return response.status_code, response.text.replace(address, "ADDRESS")

    assert body("known@example.com") == body("new@example.com") == body("bounced@example.com")
    bounced = _subscriber(engine, "bounced@example.com")
    assert bounced is not None
    assert bounced.status == "bounced"  # never revived
    bad = http.post("/subscribe", data={"email": "not an address"})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    trap = http.post("/subscribe", data={"email": "bot@example.com", "website": "spam"})
    assert trap.status_code == 200
    assert _subscriber(engine, "bot@example.com") is None


def test_repeated_posts_send_one_confirmation(http: httpx.Client, settings: Settings) -> None:
    assert http.post("/subscribe", data={"email": "eager@example.com"}).status_code == 200
    [first] = _wait_for(settings.outbox_dir, "*eager@example.com.eml")
    written = first.stat().st_mtime_ns
    assert _eml(first)["Subject"].startswith("Confirm your subscription")
    for _ in range(2):
        assert http.post("/subscribe", data={"email": "eager@example.com"}).status_code == 200
    time.sleep(0.5)  # had another email been due, the outbox would have rewritten the file
    assert first.stat().st_mtime_ns == written


def test_admin_api_requires_the_token(http: httpx.Client, settings: Settings) -> None:
    assert http.get("/api/subscribers").status_code == 401
    wrong = http.get("/api/subscribers", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert http.get("/api/stats", headers=ADMIN).status_code == 200
    settings.admin_token = ""
    off = http.get("/api/subscribers", headers=ADMIN)
    assert off.status_code == 503
    assert "NEWSLETTER_ADMIN_TOKEN" in off.json()["detail"]


def test_admin_api_manages_the_list(http: httpx.Client, engine: Engine) -> None:
    created = http.post(
        "/api/subscribers",
        headers=ADMIN,
        json={"email": "Ops@Example.com", "name": "Ops", "confirmed": True},
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert created.json()["email"] == "ops@example.com"
    assert created.json()["status"] == "active"
    duplicate = http.post("/api/subscribers", headers=ADMIN, json={"email": "ops@example.com"})
    assert duplicate.status_code == 422
    for i in range(3):
        http.post("/api/subscribers", headers=ADMIN, json={"email": f"p{i}@example.org"})
    page = http.get("/api/subscribers", headers=ADMIN, params={"status": "pending", "limit": 2})
    assert page.status_code == 200
    assert page.json()["total"] == 3
    assert [s["email"] for s in page.json()["items"]] == ["p0@example.org", "p1@example.org"]
    rest = http.get(
        "/api/subscribers",
        headers=ADMIN,
        params={"status": "pending", "limit": 2, "after_id": page.json()["next_after_id"]},
    )
    assert [s["email"] for s in rest.json()["items"]] == ["p2@example.org"]
    assert rest.json()["next_after_id"] is None
    found = http.get("/api/subscribers", headers=ADMIN, params={"search": "OPS"})
    assert [s["id"] for s in found.json()["items"]] == [sid]

    updated = http.patch(
        f"/api/subscribers/{sid}",
        headers=ADMIN,
        json={"status": "unsubscribed", "reason": "asked by phone"},
    )
    assert updated.status_code == 200
    assert updated.json()["status"] == "unsubscribed"
    assert (
        http.get(f"/api/subscribers/{sid}", headers=ADMIN).json()["status_reason"]
        == "asked by phone"
    )

    upload = http.post(
        "/api/subscribers/import",
        headers=ADMIN,
        files={
            "file": (
                "list.csv",
                b"email,name\nnew@example.net,New\nbroken,Bad\nnew@example.net,Again\n",
                "text/csv",
            )
        },
    )
    assert upload.status_code == 200, upload.text
    report = upload.json()
    assert report["imported"] == 1
    assert [(b["line"], b["email"]) for b in report["bad_rows"]] == [
        (3, "broken"),
        (4, "new@example.net"),
    ]

    assert http.delete(f"/api/subscribers/{sid}", headers=ADMIN).status_code == 204
    assert http.get(f"/api/subscribers/{sid}", headers=ADMIN).status_code == 404
    assert _subscriber(engine, "ops@example.com") is None
    readd = http.post("/api/subscribers", headers=ADMIN, json={"email": "ops@example.com"})
    assert readd.status_code == 422
    assert "forgotten" in readd.json()["detail"]

    stats = http.get("/api/stats", headers=ADMIN).json()
    assert stats["by_status"]["pending"] == 4
    assert stats["total"] == 4


def test_openapi_schema_describes_the_admin_api(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    paths = schema["paths"]
    assert {
        "/api/subscribers",
        "/api/subscribers/{subscriber_id}",
        "/api/subscribers/import",
        "/api/stats",
    } <= set(paths)
    assert set(paths["/api/subscribers/{subscriber_id}"]) == {"get", "patch", "delete"}
    listing = paths["/api/subscribers"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert listing["$ref"].endswith("/SubscriberPage")
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_past_issues_web_version_and_feed(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    assert "The first issue is on its way" in http.get("/").text
    issue = _issue_for(engine, settings, tmp_path, "2026-W48", ["one"], "2026-11-24")
    home = http.get("/")
    assert f'href="/issues/{issue.number}"' in home.text
    web = http.get(f"/issues/{issue.number}")
    assert web.status_code == 200
    assert "One A vs One B" in web.text
    assert "%%" not in web.text
    assert "/vote/" not in web.text
    assert "Vote One A" not in web.text
    assert "/unsubscribe/" not in web.text
    assert http.get("/issues/99").status_code == 404
    feed = http.get("/feed.xml")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert f"<id>{settings.site_url}/issues/{issue.number}</id>" in feed.text
    page = http.get("/comparisons/one")
    assert page.status_code == 200
    assert "What one-a does" in page.text
    assert http.get("/comparisons/nope").status_code == 404
    with session_scope(engine) as session:  # in a draft and dated in the future: not yet public
        session.exec(select(Issue).where(Issue.number == issue.number)).one().status = "draft"
        session.exec(select(Comparison).where(Comparison.slug == "one")).one().published = date(
            2999, 1, 1
        )
    assert http.get("/comparisons/one").status_code == 404
