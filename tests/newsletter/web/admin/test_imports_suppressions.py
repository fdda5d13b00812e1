"""Importing a CSV by upload (the background job, its progress page and report, the size
limit, UTF-8), and the suppressions page with an admin lifting one; audited."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import Engine

from newsletter.accounts.roles import Role
from newsletter.web.admin import imports
from tests.newsletter.web.admin.desk import csrf_of, signed_in
from tests.newsletter.web.admin.list_data import (
    add_list,
    audit_actions,
    form_csrf,
    status_of,
)

CSV = b"Email,Name\nnew@example.com,New Person\nnot-an-address,Bad\nada@example.com,Ada\n"


def finished(client: httpx.Client, location: str) -> httpx.Response:
    """The job's page once its report is there (it refreshes itself until then)."""
    for _ in range(100):
        page = client.get(location)
        if 'http-equiv="refresh"' not in page.text:
            return page
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def upload(client: httpx.Client, body: bytes, **fields: str) -> httpx.Response:
    form = client.get("/admin/subscribers/import").text
    token = form_csrf(form, "/admin/subscribers/import")
    return client.post(
        "/admin/subscribers/import",
        data={"csrf": token, "confirm": "yes", **fields},
        files={"file": ("members.csv", body, "text/csv")},
    )


def test_an_upload_imports_and_reports_its_bad_rows(desk: str, engine: Engine) -> None:
    add_list(engine)
    with signed_in(desk, Role.ADMIN) as admin:
        answer = upload(admin, CSV, active="yes")
        assert answer.status_code == 303, answer.text
        report = finished(admin, answer.headers["location"])
    assert report.status_code == 200
    assert "Done." in report.text
    assert '<td class="num">3</td><td>not-an-address</td>' in report.text  # line 3, named
    assert status_of(engine, "new@example.com") == "active"
    assert status_of(engine, "ada@example.com") == "active"  # already there: unchanged
    actions = audit_actions(engine)
    assert [a[:2] for a in actions] == [("subscriber import", "members.csv")] * 2
    assert actions[0][2].startswith("upload accepted:")
    assert actions[1][2] == "3 rows: 1 imported, 1 already on the list, 1 bad"


def test_an_upload_is_refused_whole_when_too_large_or_not_utf8(
    desk: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "UPLOAD_MAX", 40)
    with signed_in(desk, Role.ADMIN) as admin:
        large = upload(admin, b"email\n" + b"someone@example.com\n" * 3)
        latin = upload(admin, b"email\nj\xf6rg@example.com\n")
        unconfirmed = admin.post(
            "/admin/subscribers/import",
            data={"csrf": csrf_of(admin, "/admin/subscribers/import")},
            files={"file": ("m.csv", b"email\nx@example.com\n", "text/csv")},
        )
    assert large.status_code == 413
    assert "the desk takes files up to" in large.text
    assert latin.status_code == 422
    assert "members.csv:2: not UTF-8" in latin.text
    assert unconfirmed.status_code == 422
    assert status_of(engine, "someone@example.com") is None
    assert status_of(engine, "x@example.com") is None
    assert audit_actions(engine) == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_only_admins_import(desk: str, engine: Engine, role: Role) -> None:
    with signed_in(desk, role) as person:
        form = person.get("/admin/subscribers/import")
        token = csrf_of(person, "/admin/subscribers")
        post = person.post(
            "/admin/subscribers/import",
            data={"csrf": token, "confirm": "yes"},
            files={"file": ("m.csv", b"email\nx@example.com\n", "text/csv")},
        )
    assert form.status_code == post.status_code == 403
    assert status_of(engine, "x@example.com") is None


def test_suppressions_list_and_an_admin_lifts_one(desk: str, engine: Engine) -> None:
    ids = add_list(engine)
    with signed_in(desk, Role.VIEWER) as viewer:
        seen = viewer.get("/admin/suppressions")
    assert "gone@example.net" in seen.text
    assert "550 no such user" in seen.text
    assert "(webhook)" in seen.text
    assert "ada@example.com" not in seen.text
    assert "/lift" not in seen.text  # a viewer sees no lift form
    with signed_in(desk, Role.ADMIN) as admin:
        path = f"/admin/suppressions/{ids['gone']}/lift"
        token = form_csrf(admin.get("/admin/suppressions").text, path)
        done = admin.post(path, data={"csrf": token, "reason": "mailbox fixed", "confirm": "yes"})
        again = admin.post(path, data={"csrf": token, "reason": "twice", "confirm": "yes"})
        history = admin.get(f"/admin/subscribers/{ids['gone']}")
        after = admin.get("/admin/suppressions")
    assert done.status_code == 200
    assert "is now active" in done.text
    assert again.status_code == 409
    assert "suppression lifted: mailbox fixed" in history.text
    assert "gone@example.net" not in after.text
    assert status_of(engine, "gone@example.net") == "active"
    assert audit_actions(engine) == [
        ("suppression lift", f"subscriber #{ids['gone']}", "bounced -> active: mailbox fixed")
    ]
