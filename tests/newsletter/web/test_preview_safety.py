"""The editor's preview server gives back nothing a request sent as markup, keeps a link's
values as given, and answers only for loopback names (DNS rebinding)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.models import Comparison
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.factories import comparison, write_content
from tests.newsletter.web.test_security_headers import directives

PAYLOAD = "<img src=x onerror=alert(1)>"
SHORT = "<b>x</b>"  # within the 10 characters a week may have, so it reaches the preview


@pytest.fixture
def preview_port(engine: Engine, settings: Settings, tmp_path: Path) -> Iterator[int]:
    settings.content_dir = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    with serve(create_app(settings, engine, preview=True)) as port:
        yield port


@pytest.fixture
def preview(preview_port: int) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"http://127.0.0.1:{preview_port}", trust_env=False, timeout=20
    ) as client:
        yield client


HOSTILE = [
    (f"/preview/comparisons/{quote(PAYLOAD)}", {}),
    ("/preview", {"week": PAYLOAD}),
    ("/preview", {"week": SHORT}),
    ("/preview", {"scheme": PAYLOAD}),
    ("/preview", {"view": PAYLOAD}),
    ("/preview", {"number": PAYLOAD}),
    ("/preview/email", {"week": PAYLOAD}),
    ("/preview/email", {"week": SHORT}),
    ("/preview/text", {"week": PAYLOAD}),
    ("/preview/text", {"week": SHORT}),
    (f"/preview/{quote(PAYLOAD)}", {}),
    (f"/{quote(PAYLOAD)}", {}),
    (f"/comparisons/{quote(PAYLOAD)}", {}),
]


def test_nothing_a_request_sends_comes_back_as_markup(preview: httpx.Client) -> None:
    for path, params in HOSTILE:
        answer = preview.get(path, params=params)
        where = f"{path} {params}"
        assert 400 <= answer.status_code < 500, where
        assert "<img" not in answer.text, where
        assert "<b>" not in answer.text, where
        if answer.headers["content-type"].startswith("application/json"):
            assert answer.json(), where  # still JSON, whose strings read as sent
        assert answer.headers["x-content-type-options"] == "nosniff", where


def test_what_the_json_says_reads_as_sent(preview: httpx.Client) -> None:
    answer = preview.get("/preview/text", params={"week": SHORT})
    assert answer.status_code == 422
    assert answer.json() == {"detail": f"'{SHORT}' is not an ISO week; write it like 2026-W48"}
    assert "\\u003cb\\u003e" in answer.text


def test_a_problem_is_shown_escaped_in_the_page_and_its_frames(
    preview: httpx.Client, settings: Settings
) -> None:
    file = settings.content_dir / "comparisons" / "one.yaml"
    file.write_text(file.read_text().replace("published: '2026-11-24'", f"published: '{SHORT}'"))
    for path in ("/preview", "/preview/email", "/preview/comparisons/one"):
        answer = preview.get(path, params={"week": "2026-W48"})
        assert answer.status_code == 422, path
        assert "&lt;b&gt;x&lt;/b&gt;" in answer.text, path
        assert "<b>" not in answer.text, path


def test_a_link_keeps_the_week_as_given(preview: httpx.Client) -> None:
    """`&` in a week stays in the week: it cannot add a parameter to the page's links."""
    given = "2026-W48&x"
    page = preview.get("/preview", params={"week": given})
    assert page.status_code == 422  # not a week: shown as a problem, with the links
    hrefs = [h for h in _hrefs(page.text) if h.startswith("?")]
    assert len(hrefs) == 5  # the width and colour switches
    for href in hrefs:
        assert parse_qs(urlsplit(href).query)["week"] == [given], href


def _hrefs(html: str) -> list[str]:
    from html import unescape

    return [unescape(part.split('"', 1)[0]) for part in html.split('href="')[1:]]


def test_the_email_frame_has_a_policy_of_its_own(preview: httpx.Client) -> None:
    page = preview.get("/preview", params={"week": "2026-W48"})
    assert page.status_code == 200
    assert directives(page)["frame-ancestors"] == "'none'"
    assert directives(page)["frame-src"] == "'self'"
    assert "strict-transport-security" not in page.headers  # plain http on loopback
    frame = preview.get("/preview/email", params={"week": "2026-W48"})
    assert frame.status_code == 200
    csp = directives(frame)
    assert csp["frame-ancestors"] == "'self'"
    assert "script-src" not in csp  # default-src 'none': no script at all
    assert csp["default-src"] == "'none'"
    assert "sandbox" in csp
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert frame.headers["x-content-type-options"] == "nosniff"


def test_the_preview_answers_for_loopback_names(preview_port: int) -> None:
    for host in ("127.0.0.1", "localhost", "[::1]", "LOCALHOST"):
        answer = httpx.get(
            f"http://127.0.0.1:{preview_port}/preview/version",
            headers={"Host": f"{host}:{preview_port}"},
            trust_env=False,
        )
        assert answer.status_code == 200, host


def test_another_host_name_is_refused_before_anything_happens(
    preview_port: int, engine: Engine
) -> None:
    """A page whose name was made to resolve to 127.0.0.1 reaches the socket, not the app:
    the preview is not even built (building it loads content/ into the database)."""
    base = f"http://127.0.0.1:{preview_port}"
    for host in ("evil.example", "127.0.0.1.evil.example", "localhost.", ""):
        name = f"{host}:{preview_port}" if host else ""
        for path in ("/preview?week=2026-W48", "/preview/version", "/", "/api/stats"):
            answer = httpx.get(base + path, headers={"Host": name}, trust_env=False, timeout=20)
            assert answer.status_code == 400, (host, path)
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Comparison)).one() == 0


def test_the_public_server_builds_nothing_from_the_host_name(
    http: httpx.Client, engine: Engine
) -> None:
    """`newsletter serve` answers for any name (a load balancer's probe uses an address):
    every absolute URL it writes comes from NEWSLETTER_SITE_URL, never from the request."""
    for path in ("/", "/subscribe", "/feed.xml", "/no/such/page", "/docs"):
        answer = http.get(path, headers={"Host": "evil.example"})
        assert answer.status_code in (200, 404), path
        assert "evil.example" not in answer.text, path
