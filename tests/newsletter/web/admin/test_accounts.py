"""The accounts page over HTTP: an admin adds, re-roles, disables, enables and re-keys
accounts through its forms; each change is confirmed, audited, and ends the sessions it
should; other roles see neither the page nor its link."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.accounts.models import Account, AuditEntry
from newsletter.accounts.roles import Role
from newsletter.core.database import session_scope
from tests.newsletter.web.admin.desk import PASSWORD, csrf_of, email_of, sign_in_response, signed_in

NEW_PASSWORD = "another long password"


def audited(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [(r.actor, r.action, r.target) for r in rows if not r.action.startswith("sign")]


def account(engine: Engine, email: str) -> Account:
    with session_scope(engine) as session:
        found = session.exec(select(Account).where(Account.email == email)).one()
        session.expunge(found)
        return found


def test_an_admin_manages_the_team_through_the_forms(desk: str, engine: Engine) -> None:
    admin = email_of(Role.ADMIN)
    with signed_in(desk, Role.ADMIN) as browser:
        page = browser.get("/admin/accounts")
        assert page.status_code == 200
        for role in Role:
            assert email_of(role) in page.text
        assert 'href="/admin/accounts"' in page.text  # the nav shows it to an admin
        csrf = csrf_of(browser, "/admin/accounts")
        form = {"csrf": csrf, "confirm": "yes"}
        password = {"password": PASSWORD, "password_again": PASSWORD}

        added = browser.post(
            "/admin/accounts",
            data=form | password | {"email": "Grace@Team.example", "role": "editor"},
        )
        assert (added.status_code, added.headers["location"]) == (303, "/admin/accounts?done=added")
        assert "The account was added" in browser.get(added.headers["location"]).text
        assert account(engine, "grace@team.example").role == "editor"

        steps = [
            ("/admin/accounts/role", {"email": "grace@team.example", "role": "viewer"}),
            ("/admin/accounts/disable", {"email": "grace@team.example"}),
            ("/admin/accounts/enable", {"email": "grace@team.example"}),
            ("/admin/accounts/password", {"email": "grace@team.example"} | password),
        ]
        for path, fields in steps:
            answer = browser.post(path, data=form | fields)
            assert answer.status_code == 303, (path, answer.text)
        grace = account(engine, "grace@team.example")
        assert (grace.role, grace.disabled_at) == ("viewer", None)

    assert audited(engine)[-5:] == [
        (admin, "account add", "grace@team.example"),
        (admin, "account role", "grace@team.example"),
        (admin, "account disable", "grace@team.example"),
        (admin, "account enable", "grace@team.example"),
        (admin, "account password", "grace@team.example"),
    ]


def test_each_change_needs_its_box_ticked_and_its_password_twice(desk: str, engine: Engine) -> None:
    with signed_in(desk, Role.ADMIN) as browser:
        csrf = csrf_of(browser, "/admin/accounts")
        unticked = browser.post(
            "/admin/accounts/disable", data={"csrf": csrf, "email": email_of(Role.VIEWER)}
        )
        assert unticked.status_code == 422
        assert "tick the box" in unticked.text
        differ = browser.post(
            "/admin/accounts",
            data={
                "csrf": csrf,
                "confirm": "yes",
                "email": "typo@team.example",
                "role": "viewer",
                "password": PASSWORD,
                "password_again": PASSWORD + "x",
            },
        )
        assert differ.status_code == 422
        assert "the two entries differ" in differ.text
    assert account(engine, email_of(Role.VIEWER)).disabled_at is None
    with session_scope(engine) as session:
        assert (
            session.exec(select(Account).where(Account.email == "typo@team.example")).first()
            is None
        )
    assert audited(engine) == []  # refused changes leave no entry (the accounts are the fixture's)


def test_the_last_admin_stays_and_says_why(desk: str, engine: Engine) -> None:
    with signed_in(desk, Role.ADMIN) as browser:
        csrf = csrf_of(browser, "/admin/accounts")
        answer = browser.post(
            "/admin/accounts/role",
            data={"csrf": csrf, "confirm": "yes", "email": email_of(Role.ADMIN), "role": "viewer"},
        )
        assert answer.status_code == 403
        assert "last active admin" in answer.text
        assert "Sign out" in answer.text  # the desk's frame, not the public site's
        assert browser.get("/admin/accounts").status_code == 200  # still signed in, still admin


def test_a_changed_role_signs_its_account_out(desk: str, engine: Engine) -> None:
    with signed_in(desk, Role.EDITOR) as editor, signed_in(desk, Role.ADMIN) as admin:
        assert editor.get("/admin").status_code == 200
        csrf = csrf_of(admin, "/admin/accounts")
        admin.post(
            "/admin/accounts/role",
            data={"csrf": csrf, "confirm": "yes", "email": email_of(Role.EDITOR), "role": "viewer"},
        )
        gone = editor.get("/admin")
        assert gone.status_code == 303
        assert gone.headers["location"].startswith("/admin/sign-in")
        again = sign_in_response(editor, email_of(Role.EDITOR), PASSWORD)
        assert again.status_code == 303
        assert "editor@team.example · viewer" in editor.get("/admin").text


def test_only_admins_see_the_accounts_and_the_audit_log(desk: str) -> None:
    for role in (Role.VIEWER, Role.EDITOR):
        with signed_in(desk, role) as browser:
            home = browser.get("/admin").text
            assert 'href="/admin/accounts"' not in home
            assert 'href="/admin/audit"' not in home
            for path in ("/admin/accounts", "/admin/audit"):
                refused = browser.get(path)
                assert refused.status_code == 403
                assert f"Your role ({role.value}) does not allow this" in refused.text
