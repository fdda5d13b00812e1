"""Every answer of the app carries the security headers, over real HTTP: pages, error
pages (404, 422, 500), JSON answers of the admin API, the feed, the stylesheets, the API
docs. The policy allows no inline script or style; nothing may frame the site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from newsletter.core.database import make_engine
from newsletter.core.settings import PROJECT_ROOT, Settings
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.newsletter.web.helpers import ADMIN, issue_for


def directives(answer: httpx.Response) -> dict[str, str]:
    policy = answer.headers["content-security-policy"]
    return {
        name: value.strip()
        for name, _, value in (part.strip().partition(" ") for part in policy.split(";"))
    }


def assert_protected(answer: httpx.Response, *, https: bool = True) -> None:
    """The headers of every answer of the public site (`https`: its URL is https)."""
    where = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    csp = directives(answer)
    assert csp["default-src"] == "'none'", where
    assert csp["script-src"] == "'self'", where  # no 'unsafe-inline', no hash, no nonce
    assert csp["style-src"] == "'self'", where
    assert csp["frame-ancestors"] == "'none'", where
    assert csp["base-uri"] == "'none'", where
    assert answer.headers["x-frame-options"] == "DENY", where
    assert answer.headers["x-content-type-options"] == "nosniff", where
    assert answer.headers["referrer-policy"] == "same-origin", where
    assert "camera=()" in answer.headers["permissions-policy"], where
    assert answer.headers["cross-origin-opener-policy"] == "same-origin", where
    if https:
        assert answer.headers["strict-transport-security"] == "max-age=31536000", where
    else:
        assert "strict-transport-security" not in answer.headers, where


@pytest.fixture
def published(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    issue_for(engine, settings, tmp_path, "2026-W48", ["one"], "2026-11-24")


def test_pages_errors_json_feed_and_styles_carry_the_headers(
    http: httpx.Client, published: None
) -> None:
    answers = [
        http.get("/"),
        http.get("/issues/1"),
        http.get("/comparisons/one"),
        http.get("/subscribe"),
        http.get("/feed.xml"),
        http.get("/healthz"),
        http.get("/static/site.css"),
        http.head("/static/site.css"),
        http.get("/no/such/page"),  # 404 page
        http.get("/issues/abc"),  # 404 page, from a path that is not a number
        http.get("/static/nothing.css"),  # 404 from the static files
        http.get("/unsubscribe/not-a-token"),  # 400 page
        http.post("/subscribe", data={"email": "x" * 400}),  # 422 page
        http.delete("/"),  # 405 page
        http.get("/api/subscribers", headers=ADMIN),  # JSON
        http.get("/api/subscribers"),  # 401 JSON
        http.get("/api/subscribers/abc", headers=ADMIN),  # 422 JSON
        http.get("/api/subscribers/12345", headers=ADMIN),  # 404 JSON
        http.get("/api/stats", headers=ADMIN),
        http.get("/openapi.json"),
    ]
    codes = [a.status_code for a in answers]
    assert codes == [200] * 8 + [404, 404, 404, 400, 422, 405, 200, 401, 422, 404, 200, 200]
    assert answers[6].headers["content-type"].startswith("text/css")
    for answer in answers:
        assert_protected(answer)


def test_no_template_has_inline_script_style_or_handlers() -> None:
    """What the policy would block: a page must link its scripts and styles."""
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.I)
    found = {
        path.name: inline.findall(path.read_text())
        for path in (PROJECT_ROOT / "templates" / "web").rglob("*.html")
    }
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_a_500_is_the_sites_page_with_the_headers(tmp_path: Path) -> None:
    """A database without its tables: an unexpected error, answered without its details."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'no-tables.db'}",
        secret_key="test-secret-key-" + "x" * 32,
        site_url="https://verdicts.example.com",
        admin_token="admin-test-token",
        outbox_dir=tmp_path / "outbox",
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = make_engine(settings.database_url)  # never upgraded
    with serve(create_app(settings, engine)) as port:
        base = f"http://127.0.0.1:{port}"
        page = httpx.get(f"{base}/", trust_env=False)
        assert page.status_code == 500
        assert "<h1>Something went wrong</h1>" in page.text
        assert "no such table" not in page.text
        assert_protected(page)
        api = httpx.get(f"{base}/api/stats", headers=ADMIN, trust_env=False)
        assert api.status_code == 500
        assert api.json() == {"detail": "Internal Server Error"}
        assert_protected(api)
    engine.dispose()


@pytest.fixture
def plain_http(engine: Engine, settings: Settings) -> Iterator[httpx.Client]:
    settings.site_url = "http://news.example.com"
    with (
        serve(create_app(settings, engine)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http,
    ):
        yield http


def test_hsts_only_when_the_site_is_https(plain_http: httpx.Client) -> None:
    assert_protected(plain_http.get("/"), https=False)
    assert_protected(plain_http.get("/nothing"), https=False)


def test_the_api_docs_allow_their_one_inline_script_by_its_hash(http: httpx.Client) -> None:
    docs = http.get("/docs")
    assert docs.status_code == 200
    csp = directives(docs)
    assert csp["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in docs.headers["content-security-policy"]
    assert re.fullmatch(r"'self' 'sha256-[A-Za-z0-9+/]{43}='", csp["script-src"])
    assert "http" not in docs.headers["content-security-policy"]  # nothing from elsewhere
    assert docs.headers["x-content-type-options"] == "nosniff"
    assert http.get("/redoc").status_code == 404
    for asset, kind in [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")]:
        answer = http.get(f"/docs/assets/{asset}")
        assert answer.status_code == 200
        assert kind in answer.headers["content-type"]
        assert f"/docs/assets/{asset}" in docs.text
    assert http.get("/docs/assets/index.html").status_code == 404
    assert http.get("/docs/assets/..%2f..%2f__init__.py").status_code == 404
