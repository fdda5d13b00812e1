"""No text in a request answers 500: every string parameter of every route (paths, queries,
JSON bodies and forms of the public pages, the admin API and the editor's preview) gets a
NUL, the other control characters, an escape sequence, a bidi control and a lone surrogate
over real HTTP, on both databases (PostgreSQL refuses a NUL in a text value; SQLite and the
driver's encoder refuse a surrogate). The routes are read from the app, so a route added
later is covered too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote, urlencode

import httpx
import pytest
from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.factories import comparison, write_content
from tests.newsletter.web.admin.desk import PASSWORD as DESK_PASSWORD
from tests.newsletter.web.admin.desk import desk_credentials
from tests.newsletter.web.helpers import ADMIN
from tests.newsletter.web.route_walk import route_parameters

HOSTILE = [
    "\x00",
    "one\x00two",
    "\x1b[2J\x1b[31mred",  # a terminal escape: clear the screen, then red
    "\x07\x08\x7f",  # BEL, backspace, DEL
    "\x85\x9b",  # C1: next line, the one-byte CSI
    "two\r\nlines",
    "\t",
    "\u202eevil",  # right-to-left override
    "\ufeff",  # byte order mark (invisible)
    "\ud800",  # a lone surrogate: only JSON can carry one (in a URL or a form: U+FFFD)
]

# A valid request around each parameter: the other path parameters, and the body the route
# needs, so the text under test is what the route sees.
PATH_VALUES = {"token": "x", "slug": "one", "number": "1", "subscriber_id": "1"}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/subscribers"): {"email": "hostile@example.com"},
    ("PATCH", "/api/subscribers/{subscriber_id}"): {"status": "active", "reason": "test"},
}
FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/subscribe"): {"email": "hostile@example.com"},
    ("POST", "/confirm/{token}"): {"named": "1", "name": "Ada"},
    # The desk (/admin): sent with an admin's session, and its CSRF token added.
    ("POST", "/admin/sign-in"): {"email": "walker@team.example"},
    ("POST", "/admin/sign-out"): {},
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
    ("POST", "/admin/subscribers/export"): {"status": "active"},
    ("POST", "/admin/subscribers/import"): {"active": "yes", "confirm": "yes"},
    ("POST", "/admin/subscribers/{subscriber_id}/status"): {"status": "active", "reason": "w"},
    ("POST", "/admin/subscribers/{subscriber_id}/forget"): {"address": "w@example.com"},
    ("POST", "/admin/suppressions/{subscriber_id}/lift"): {"reason": "walk", "confirm": "yes"},
    ("POST", "/admin/accounts"): {
        "email": "new@team.example",
        "role": "viewer",
        "password": DESK_PASSWORD,
        "password_again": DESK_PASSWORD,
        "confirm": "yes",
    },
    ("POST", "/admin/accounts/role"): {
        "email": "viewer@team.example",
        "role": "editor",
        "confirm": "yes",
    },
    ("POST", "/admin/accounts/disable"): {"email": "viewer@team.example", "confirm": "yes"},
    ("POST", "/admin/accounts/enable"): {"email": "viewer@team.example", "confirm": "yes"},
    ("POST", "/admin/accounts/password"): {
        "email": "viewer@team.example",
        "password": DESK_PASSWORD,
        "password_again": DESK_PASSWORD,
        "confirm": "yes",
    },
}
UPLOADS: dict[tuple[str, str], tuple[str, str, bytes]] = {
    ("POST", "/admin/subscribers/import"): ("file", "walk.csv", b"email\nwalk@example.com\n"),
}
"""Forms that carry a file: sent as multipart/form-data, the file beside the fields."""
BOUNDARY = "walk-boundary-7f3a"

CLEANED = {
    ("POST", "/api/subscribers", "name"),
    ("POST", "/subscribe", "name"),
    ("POST", "/subscribe", "website"),  # the honeypot: answered as a success, nothing kept
    ("GET", "/admin/sign-in", "next"),  # where to go after: anything odd is the dashboard
}
"""Names are cleaned rather than refused (`subscribers.addresses.clean_name`), so these may
answer 2xx; every other string answers 4xx to every hostile value."""


@dataclass(frozen=True)
class TextParameter:
    method: str
    path: str
    where: str  # "path", "query", "body" (JSON) or "form"
    name: str

    def request(self, value: str, desk: tuple[str, str] = ("", "")) -> dict[str, Any]:
        """The request, its bytes spelled out: a surrogate cannot be UTF-8, so URLs and
        forms carry its 'surrogatepass' bytes (the server decodes them as U+FFFD) and
        JSON its `\\ud800` escape."""
        raw = quote(value.encode("utf-8", "surrogatepass"), safe="")
        path = self.path
        if self.where == "path":
            path = path.replace("{" + self.name + "}", raw)
        for other, filler in PATH_VALUES.items():
            path = path.replace("{" + other + "}", filler)
        if self.where == "query":
            path += f"?{self.name}={raw}"
        headers = dict(ADMIN)
        if self.path.startswith("/admin"):
            headers["Cookie"] = desk[0]  # an admin's session: the desk's forms are reached
        content: bytes | None = None
        if (self.method, self.path) in BODIES:
            body = BODIES[(self.method, self.path)] | (
                {self.name: value} if self.where == "body" else {}
            )
            content = json.dumps(body).encode()  # ASCII: the surrogate as its escape
            headers["Content-Type"] = "application/json"
        elif (self.method, self.path) in FORMS:
            form = FORMS[(self.method, self.path)]
            if self.path.startswith("/admin"):
                form = {"csrf": desk[1], **form}
            if (self.method, self.path) in UPLOADS:
                mine = value.encode("utf-8", "surrogatepass") if self.where == "form" else None
                content = multipart(form, self.name, mine, UPLOADS[(self.method, self.path)])
                headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
                return {"method": self.method, "url": path, "content": content, "headers": headers}
            extra = f"&{self.name}={raw}" if self.where == "form" else ""
            content = (urlencode(form) + extra).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return {"method": self.method, "url": path, "content": content, "headers": headers}


def multipart(
    form: dict[str, str], name: str, value: bytes | None, upload: tuple[str, str, bytes]
) -> bytes:
    """A multipart body: the form's fields, `name` set to `value` (its bytes as they are)
    when given, and the file."""
    fields = [(k, v.encode()) for k, v in form.items() if value is None or k != name]
    fields += [(name, value)] if value is not None else []
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v + b"\r\n"
        for k, v in fields
    ]
    field, filename, data = upload
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _is_str(annotation: Any) -> bool:
    """`str`, and `str` inside `Annotated` or a union (`Annotated[str, ...] | None`)."""
    return annotation is str or any(_is_str(a) for a in get_args(annotation))


def _fields(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    yield from (("path", f) for f in dependant.path_params)
    yield from (("query", f) for f in dependant.query_params)
    for field in dependant.body_params:
        if isinstance(field.field_info, params.Form):
            yield "form", field
        elif isinstance(model := field.field_info.annotation, type) and issubclass(
            model, BaseModel
        ):
            for name, info in model.model_fields.items():
                if _is_str(info.annotation):
                    yield "body", _Named(name, info)
    for sub in dependant.dependencies:
        yield from _fields(sub)


@dataclass(frozen=True)
class _Named:
    alias: str
    field_info: Any


def text_parameters(app: FastAPI) -> list[TextParameter]:
    bodies = set(BODIES) | set(FORMS)
    return [TextParameter(*found) for found in route_parameters(app, _fields, _is_str, bodies)]


@pytest.fixture
def app(engine: Engine, settings: Settings, tmp_path: Path) -> FastAPI:
    """The public pages, the admin API and the preview in one app, over a published
    comparison so the preview has something to build; no rate limit on the form, so every
    post reaches the route."""
    settings.admin_token = "admin-test-token"
    settings.signup_limit_per_client = ""
    settings.signup_limit_total = ""
    settings.content_dir = write_content(tmp_path / "content", [comparison("one", "2025-11-24")])
    return create_app(settings, engine, preview=True)


def test_the_walk_finds_every_string_the_routes_take(app: FastAPI) -> None:
    names = {(p.method, p.path, p.where, p.name) for p in text_parameters(app)}
    assert {
        ("GET", "/comparisons/{slug}", "path", "slug"),
        ("GET", "/preview/comparisons/{slug}", "path", "slug"),
        ("GET", "/preview", "query", "week"),
        ("GET", "/preview/email", "query", "week"),
        ("GET", "/preview/text", "query", "week"),
        ("GET", "/api/subscribers", "query", "search"),
        ("POST", "/api/subscribers", "body", "email"),
        ("POST", "/api/subscribers", "body", "name"),
        ("PATCH", "/api/subscribers/{subscriber_id}", "body", "reason"),
        ("GET", "/confirm/{token}", "path", "token"),
        ("HEAD", "/confirm/{token}", "path", "token"),
        ("POST", "/confirm/{token}", "path", "token"),
        ("POST", "/subscribe", "form", "email"),
        ("POST", "/subscribe", "form", "name"),
        ("POST", "/confirm/{token}", "form", "name"),
    } <= names
    tokens = {p.path for p in text_parameters(app) if p.name == "token"}
    assert len(tokens) == 5  # confirm, vote (the old link and the choice), unsubscribe, resubscribe


class Prober:
    """Sends one request after another on one connection, and a new connection after a
    500 or a dropped one (uvicorn closes the connection of a 500), so each answer is the
    answer to its own request."""

    def __init__(self, port: int, desk: tuple[str, str]) -> None:
        self.desk = desk
        self.base_url = f"http://127.0.0.1:{port}"
        self.http = self._client()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, trust_env=False, timeout=10)

    def send(self, parameter: TextParameter, value: str) -> int | str:
        try:
            code: int | str = self.http.request(**parameter.request(value, self.desk)).status_code
        except httpx.HTTPError as exc:
            code = f"no answer: {exc!r}"
        if not isinstance(code, int) or code >= 500:
            self.http.close()
            self.http = self._client()
        return code


def test_no_text_anywhere_answers_500(app: FastAPI, engine: Engine, settings: Settings) -> None:
    parameters = text_parameters(app)
    with serve(app) as port:
        probe = Prober(port, desk_credentials(engine, settings))
        # A subscriber for the PATCH to change, so its body is read past the id.
        created = probe.send(TextParameter("POST", "/api/subscribers", "body", "name"), "Ada")
        assert created == 201
        answers = [(p, v, probe.send(p, v)) for p in parameters for v in HOSTILE]
        probe.http.close()
    broken = [a for a in answers if not (isinstance(a[2], int) and a[2] < 500)]
    assert broken == []
    accepted = [a for a in answers if isinstance(a[2], int) and a[2] < 400 and _refused(*a[:2])]
    assert accepted == []


def _refused(parameter: TextParameter, value: str) -> bool:
    """Whether `value` must be refused (4xx) by `parameter`: every hostile value, except in
    a name (cleaned) and a surrogate outside JSON (it arrives as U+FFFD, plain text)."""
    if (parameter.method, parameter.path, parameter.name) in CLEANED:
        return False
    return parameter.where == "body" or value != "\ud800"


def test_the_reviews_examples(app: FastAPI) -> None:
    """The examples of the review: a reader's missing comparison, the preview's, and the
    admin API naming the field that holds the NUL."""
    with (
        serve(app) as port,
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}", trust_env=False, headers=ADMIN, timeout=10
        ) as http,
    ):
        preview = http.get("/preview/comparisons/%00")
        assert preview.status_code == 404
        assert "no comparison" in preview.text
        assert http.get("/preview/comparisons/one").status_code == 200  # loads the files

        page = http.get("/comparisons/%00")
        assert page.status_code == 404
        assert "<h1>No such comparison</h1>" in page.text
        assert http.get("/comparisons/One").status_code == 404  # upper case: never a slug
        assert http.get("/comparisons/one").status_code == 200

        search = http.get("/api/subscribers", params={"search": "a\x00b"})
        assert search.status_code == 422
        [error] = search.json()["detail"]
        assert error["loc"] == ["query", "search"]
        assert "\\x00 at character 2" in error["msg"]

        ada = http.post("/api/subscribers", json={"email": "ada@example.com"}).json()
        change = http.patch(
            f"/api/subscribers/{ada['id']}", json={"status": "unsubscribed", "reason": "a\x00b"}
        )
        assert change.status_code == 422
        assert [e["loc"] for e in change.json()["detail"]] == [["body", "reason"]]
        assert http.get(f"/api/subscribers/{ada['id']}").json()["status"] == "pending"

        week = http.get("/preview/text", params={"week": "2026-W4\x008"})
        assert week.status_code == 422
        assert week.json()["detail"][0]["loc"] == ["query", "week"]


def test_the_walk_sends_a_file_where_a_form_takes_one(
    app: FastAPI, engine: Engine, settings: Settings
) -> None:
    """A harmless value through the walk's multipart body is imported: the hostile ones
    reach the route's fields, not a missing-file refusal."""
    upload = TextParameter("POST", "/admin/subscribers/import", "form", "active")
    with serve(app) as port:
        probe = Prober(port, desk_credentials(engine, settings))
        assert probe.send(upload, "yes") == 303
        probe.http.close()
