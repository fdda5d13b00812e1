"""The editor's preview answers its errors with their detail, in JSON as it always did; the
public pages of the same server keep the site's styled pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.factories import comparison, write_content

SITE_NAVIGATION = '<nav aria-label="Site">'


@pytest.fixture
def preview(engine: Engine, settings: Settings, tmp_path: Path) -> Iterator[httpx.Client]:
    """A preview server over content of its own (one good comparison of week 48)."""
    settings.content_dir = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    with (
        serve(create_app(settings, engine, preview=True)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=20) as client,
    ):
        yield client


def _invalid(answer: httpx.Response) -> list[tuple[list[str], str]]:
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/json"
    return [(e["loc"], e["msg"]) for e in answer.json()["detail"]]


@pytest.mark.parametrize(
    ("path", "params", "name", "reason"),
    [
        ("/preview", {"scheme": "purple"}, "scheme", "Input should be 'light' or 'dark'"),
        ("/preview", {"view": "tablet"}, "view", "Input should be 'both', 'desktop' or 'phone'"),
        ("/preview/email", {"number": "abc"}, "number", "Input should be a valid integer"),
        ("/preview/text", {"number": "0"}, "number", "Input should be greater than or equal to 1"),
        ("/preview", {"number": "99999999999999999999"}, "number", "Input should be less than"),
        ("/preview", {"week": "2026-W48-and-more"}, "week", "String should have at most 10"),
    ],
)
def test_a_bad_parameter_is_named_with_its_reason(
    preview: httpx.Client, path: str, params: dict[str, str], name: str, reason: str
) -> None:
    [(where, message)] = _invalid(preview.get(path, params=params))
    assert where == ["query", name]
    assert message.startswith(reason), message


def test_a_broken_file_and_an_unknown_address_answer_in_json(
    preview: httpx.Client, settings: Settings
) -> None:
    assert preview.get("/preview/text", params={"week": "2026-W48"}).status_code == 200
    (settings.content_dir / "comparisons" / "one.yaml").write_text("slug: [\n")
    broken = preview.get("/preview/text", params={"week": "2026-W48"})
    assert broken.status_code == 422
    assert broken.headers["content-type"] == "application/json"
    assert "content/comparisons/one.yaml:" in broken.json()["detail"]
    missing = preview.get("/preview/no-such-view")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})


def test_the_public_pages_of_a_preview_server_keep_the_site_look(preview: httpx.Client) -> None:
    for path in ("/issues/abc", "/no/such/page", "/previews"):
        answer = preview.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert SITE_NAVIGATION in answer.text
        assert "<h1>Page not found</h1>" in answer.text


def test_without_the_preview_its_address_is_a_readers_missing_page(
    engine: Engine, settings: Settings
) -> None:
    with (
        serve(create_app(settings, engine)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client,
    ):
        answer = client.get("/preview", params={"scheme": "purple"})
    assert answer.status_code == 404
    assert SITE_NAVIGATION in answer.text
