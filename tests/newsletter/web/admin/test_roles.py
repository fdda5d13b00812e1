"""The roles, route by route: every desk route names the action it performs (`may`), and
every one refuses — with 403 and nothing changed — each role the roles table does not
allow; a state change also refuses a post without the session's CSRF token, and sends
someone without a session to the sign-in page.

The routes are read from the app, so a page or form added later is covered as soon as it
is merged; its form comes from the text walk's `FORMS` (valid fields, keyed by method and
path), its path parameters from the walk's fillers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from newsletter.accounts.roles import REQUIRED, Action, Role, allows
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.web.admin.auth import may
from newsletter.web.admin.signin import SIGN_IN
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.newsletter.web.admin.desk import add_accounts, csrf_of, signed_in
from tests.newsletter.web.test_text import FORMS, PATH_VALUES

READS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class DeskRoute:
    method: str
    path: str
    action: Action | None

    @property
    def url(self) -> str:
        """The path with each parameter filled (the walks' fillers; '1' for a new name)."""
        url = self.path
        while "{" in url:
            name = url[url.index("{") + 1 : url.index("}")]
            filler = PATH_VALUES.get(name.split(":")[0], "1")
            url = url.replace("{" + name + "}", filler)
        return url

    def form(self) -> dict[str, str]:
        return dict(FORMS.get((self.method, self.path), {}))

    def send(self, client: httpx.Client, csrf: str | None) -> httpx.Response:
        if self.method in READS:
            return client.request(self.method, self.url)
        fields = self.form() | ({} if csrf is None else {"csrf": csrf})
        return client.request(self.method, self.url, data=fields)


def declared(dependant: Dependant) -> Iterator[may]:
    """Every `may(...)` among a route's dependencies, however deep."""
    for sub in dependant.dependencies:
        if isinstance(sub.call, may):
            yield sub.call
        yield from declared(sub)


def desk_routes(app: FastAPI) -> list[DeskRoute]:
    found: list[DeskRoute] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path
        if not isinstance(route, APIRoute) or path is None or not path.startswith("/admin"):
            continue
        actions = {dependency.action for dependency in declared(route.dependant)}
        assert len(actions) <= 1, f"{path} declares several actions: {actions}"
        action = next(iter(actions), None)
        found.extend(DeskRoute(method, path, action) for method in sorted(route.methods or ()))
    return found


def everything(engine: Engine) -> list[tuple[str, list[str]]]:
    """Every row of every table, to show that a refused request changed nothing."""
    with session_scope(engine) as session:
        return [
            (table.name, sorted(repr(tuple(row)) for row in session.execute(select(table))))
            for table in SQLModel.metadata.sorted_tables
        ]


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    add_accounts(engine)
    return create_app(settings, engine)


def test_every_action_has_a_least_role() -> None:
    assert set(REQUIRED) == set(Action)


def test_every_desk_route_but_sign_in_declares_its_action(app: FastAPI) -> None:
    routes = desk_routes(app)
    undeclared = [(r.method, r.path) for r in routes if r.action is None]
    assert undeclared == [("GET", SIGN_IN), ("POST", SIGN_IN)]
    # the walk sees the routes it must (a walk that found nothing would pass anything)
    assert {(r.method, r.path, r.action) for r in routes} >= {
        ("GET", "/admin", Action.READ),
        ("POST", "/admin/sign-out", Action.READ),
        ("GET", "/admin/accounts", Action.ACCOUNT_MANAGE),
        ("POST", "/admin/accounts/role", Action.ACCOUNT_MANAGE),
        ("GET", "/admin/audit", Action.AUDIT_READ),
    }


def test_every_desk_route_refuses_what_the_roles_table_refuses(
    app: FastAPI, engine: Engine
) -> None:
    routes = [r for r in desk_routes(app) if r.action is not None]
    answers: list[tuple[str, str, str, int, str]] = []
    with serve(app) as port:
        base = f"http://127.0.0.1:{port}"
        with (
            signed_in(base, Role.VIEWER) as viewer,
            signed_in(base, Role.EDITOR) as editor,
            signed_in(base, Role.ADMIN) as admin,
            httpx.Client(base_url=base, trust_env=False, timeout=10) as anonymous,
        ):
            clients = {Role.VIEWER: viewer, Role.EDITOR: editor, Role.ADMIN: admin}
            tokens = {role: csrf_of(client) for role, client in clients.items()}
            before = everything(engine)
            for route in routes:
                assert route.action is not None
                for role in Role:
                    if not allows(role, route.action):
                        got = route.send(clients[role], tokens[role])
                        answers.append((route.method, route.path, role.value, got.status_code, ""))
                if route.method in READS:
                    continue
                # an admin may do anything: only the token is missing, or wrong
                for label, token in (("no csrf", None), ("wrong csrf", tokens[Role.VIEWER])):
                    got = route.send(admin, token)
                    answers.append((route.method, route.path, label, got.status_code, ""))
                got = route.send(anonymous, None)
                where = got.headers.get("location", "")
                answers.append((route.method, route.path, "anonymous", got.status_code, where))
            after = everything(engine)
            still = admin.get("/admin").status_code
    expected = [
        (
            m,
            p,
            who,
            303 if who == "anonymous" else 403,
            f"{SIGN_IN}?next=/admin" if who == "anonymous" else "",
        )
        for m, p, who, _, _ in answers
    ]
    assert answers == expected
    assert after == before
    assert still == 200  # the refused sign-out without a token signed nobody out
    refused_posts = {(m, p) for m, p, who, _, _ in answers if who == "no csrf"}
    assert ("POST", "/admin/accounts") in refused_posts


def test_without_a_session_a_page_leads_to_sign_in_and_back(app: FastAPI) -> None:
    reads = [r for r in desk_routes(app) if r.action is not None and r.method == "GET"]
    with (
        serve(app) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as anonymous,
    ):
        for route in reads:
            got = anonymous.get(route.url)
            assert got.status_code == 303, route
            location = got.headers["location"]
            assert location.startswith(f"{SIGN_IN}?next=/admin"), (route, location)


POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.DOTALL | re.IGNORECASE)


def test_every_form_a_desk_page_shows_carries_the_token(app: FastAPI) -> None:
    """A form that posts without the token would be refused: every state-changing form
    on every page an admin opens carries the session's (a macro imported without its
    context renders it empty)."""
    reads = [r for r in desk_routes(app) if r.action is not None and r.method == "GET"]
    with serve(app) as port, signed_in(f"http://127.0.0.1:{port}", Role.ADMIN) as admin:
        token = csrf_of(admin)
        forms = pages = 0
        for route in reads:
            page = admin.get(route.url)
            if page.status_code != 200 or "text/html" not in page.headers["content-type"]:
                continue  # a chart, a download, a JSON poll, or no such row in this database
            pages += 1
            for body in POST_FORM.findall(page.text):
                forms += 1
                assert f'name="csrf" value="{token}"' in body, (route.path, body)
    assert forms >= pages >= 5  # the sign-out form on each page, and the pages' own
