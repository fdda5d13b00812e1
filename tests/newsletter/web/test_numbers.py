"""No number in a path or a query answers 500: every integer parameter of every route (the
public pages, the admin API, the editor's preview) is hit over real HTTP with numbers past
what SQLite (2**63 - 1) and PostgreSQL's INTEGER (2**31 - 1) hold, and below any id, on
both databases. The routes are read from the app, so a route added later is covered too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.factories import comparison, write_content
from tests.newsletter.web.admin.desk import desk_credentials
from tests.newsletter.web.helpers import ADMIN
from tests.newsletter.web.route_walk import route_parameters

OUT_OF_RANGE = [
    str(2**31),  # past PostgreSQL's INTEGER
    str(2**63),  # past SQLite's INTEGER
    "999999999999999999999",
    str(-(2**63) - 1),
    "-1",
    "0",
]

# A valid body for each route that takes one and an integer: without it, FastAPI would
# refuse the request for the body before the number could reach the database.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/subscribers/{subscriber_id}"): {"status": "active", "reason": "test"},
}
FORMS: dict[tuple[str, str], dict[str, str]] = {
    # The desk's forms (/admin), sent with an admin's session and its CSRF token added.
    ("POST", "/admin/issues/{number}/check"): {},
    ("POST", "/admin/issues/{number}/approve"): {"confirm": "yes"},
    ("POST", "/admin/issues/{number}/unapprove"): {"confirm": "yes", "reason": "walk"},
    ("POST", "/admin/issues/{number}/hold"): {"confirm": "yes", "reason": "walk"},
    ("POST", "/admin/issues/{number}/cancel"): {"confirm": "yes", "reason": "walk"},
    ("POST", "/admin/issues/{number}/test-send"): {"email": "walk@example.com"},
    ("POST", "/admin/issues/{number}/send"): {
        "confirm": "yes",
        "shown_status": "approved",
        "snapshot": "0" * 64,
    },
    ("POST", "/admin/subscribers/{subscriber_id}/status"): {"status": "active", "reason": "w"},
    ("POST", "/admin/subscribers/{subscriber_id}/forget"): {"address": "w@example.com"},
    ("POST", "/admin/suppressions/{subscriber_id}/lift"): {"reason": "walk", "confirm": "yes"},
}


@dataclass(frozen=True)
class IntParameter:
    method: str
    path: str
    where: str  # "path" or "query"
    name: str

    def request(self, value: str, desk: tuple[str, str] = ("", "")) -> dict[str, Any]:
        path = self.path
        params = {}
        if self.where == "path":
            path = path.replace("{" + self.name + "}", value)
        else:
            params[self.name] = value
        for other in ("token", "slug", "number", "subscriber_id"):
            path = path.replace("{" + other + "}", "1" if other.endswith(("id", "number")) else "x")
        body = BODIES.get((self.method, self.path))
        if not self.path.startswith("/admin"):
            return {"method": self.method, "url": path, "params": params, "json": body}
        form = FORMS.get((self.method, self.path))
        return {
            "method": self.method,
            "url": path,
            "params": params,
            "data": None if form is None else {"csrf": desk[1], **form},
            "headers": {"Cookie": desk[0]},
        }


def _fields(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    yield from (("path", f) for f in dependant.path_params)
    yield from (("query", f) for f in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _fields(sub)


def _is_int(annotation: Any) -> bool:
    return annotation is int or int in get_args(annotation)


def int_parameters(app: FastAPI) -> list[IntParameter]:
    return [
        IntParameter(*found)
        for found in route_parameters(app, _fields, _is_int, set(BODIES) | set(FORMS))
    ]


@pytest.fixture
def app(engine: Engine, settings: Settings, tmp_path: Path) -> FastAPI:
    """The public pages, the admin API and the preview in one app, over a published
    comparison so the preview has something to build."""
    settings.admin_token = "admin-test-token"
    settings.content_dir = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    return create_app(settings, engine, preview=True)


def test_the_walk_finds_every_integer_the_routes_take(app: FastAPI) -> None:
    names = {(p.method, p.path, p.name) for p in int_parameters(app)}
    assert {
        ("GET", "/issues/{number}", "number"),
        ("GET", "/api/subscribers", "after_id"),
        ("GET", "/api/subscribers", "limit"),
        ("GET", "/api/subscribers/{subscriber_id}", "subscriber_id"),
        ("PATCH", "/api/subscribers/{subscriber_id}", "subscriber_id"),
        ("DELETE", "/api/subscribers/{subscriber_id}", "subscriber_id"),
        ("GET", "/preview", "number"),
        ("GET", "/preview/email", "number"),
        ("GET", "/preview/text", "number"),
    } <= names


def test_no_number_anywhere_answers_500(app: FastAPI, engine: Engine, settings: Settings) -> None:
    desk = desk_credentials(engine, settings)
    answers = []
    with serve(app) as port:
        for parameter in int_parameters(app):
            for value in OUT_OF_RANGE:
                # A new connection each time: after a 500 uvicorn closes the one it had.
                with httpx.Client(
                    base_url=f"http://127.0.0.1:{port}", headers=ADMIN, trust_env=False
                ) as http:
                    try:
                        code = http.request(**parameter.request(value, desk)).status_code
                    except httpx.HTTPError as exc:
                        code = f"no answer: {exc!r}"  # type: ignore[assignment]
                answers.append((parameter, value, code))
    wrong = [a for a in answers if not (isinstance(a[2], int) and a[2] < 500)]
    assert wrong == []
    refused = [a for a in answers if a[1] not in ("0", "-1")]
    assert all(400 <= code < 500 for _, _, code in refused)


def test_the_issues_examples(http: httpx.Client) -> None:
    """The two examples of the issue: a reader's missing page, and the API naming the
    parameter and its bound."""
    page = http.get("/issues/999999999999999999999")
    assert page.status_code == 404
    assert "<h1>Page not found</h1>" in page.text
    cursor = http.get("/api/subscribers", params={"after_id": str(2**63)}, headers=ADMIN)
    assert cursor.status_code == 422
    [error] = cursor.json()["detail"]
    assert error["loc"] == ["query", "after_id"]
    assert error["msg"] == "Input should be less than or equal to 2147483647"
    one = http.get(f"/api/subscribers/{2**31}", headers=ADMIN)
    assert one.status_code == 422
    assert one.json()["detail"][0]["loc"] == ["path", "subscriber_id"]
