"""Sign-in under load: the slow password check holds no transaction (on SQLite a write
transaction would queue every writer of the app behind an anonymous guess), and a client
that posts the sign-in form too fast is answered 429 before anything is checked."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine, text
from sqlmodel import select

from newsletter.accounts.models import Account, SignInFailure
from newsletter.accounts.roles import Role
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from tests.newsletter.web.admin.desk import PASSWORD, email_of, sign_in_response


def client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, trust_env=False, timeout=30)


def _slow_password(engine: Engine, role: Role) -> None:
    """A hash whose check takes a second or more: time to look while it runs."""
    with session_scope(engine) as session:
        row = session.exec(select(Account).where(Account.email == email_of(role))).one()
        row.password_hash = Argon2Hasher(time_cost=20).hash(PASSWORD)


def _held(engine: Engine) -> bool:
    """Whether some other connection holds a transaction on the accounts' tables: on
    SQLite, whether the write lock is taken; on PostgreSQL, whether a transaction holds a
    lock on `account` or `sign_in_failure` in this test's schema."""
    if engine.dialect.name == "sqlite":
        other = sqlite3.connect(str(engine.url.database), timeout=0.05)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            other.close()
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND l.pid <> pg_backend_pid() "
                "AND c.relname IN ('account', 'sign_in_failure')"
            )
        ).scalar_one()
    return bool(found)


def test_the_password_check_runs_with_no_transaction_open(desk: str, engine: Engine) -> None:
    _slow_password(engine, Role.ADMIN)
    answers: list[httpx.Response] = []
    with client(desk) as browser:
        worker = threading.Thread(
            target=lambda: answers.append(sign_in_response(browser, email_of(Role.ADMIN), PASSWORD))
        )
        worker.start()
        time.sleep(0.2)
        samples = []
        while worker.is_alive():
            samples.append(_held(engine))
            time.sleep(0.05)
        worker.join()
    assert answers[0].status_code == 303
    assert len(samples) >= 5, "the check was too fast to look at"
    assert sum(samples) <= len(samples) // 5, samples


def test_too_many_sign_in_posts_from_one_client_are_answered_429(
    desk: str, engine: Engine, settings: Settings
) -> None:
    settings.signin_limit_per_client = "3/minute"
    with client(desk) as browser:
        answers = [sign_in_response(browser, f"x{n}@team.example", "wrong!!") for n in range(4)]
        right = sign_in_response(browser, email_of(Role.ADMIN), PASSWORD)
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert right.status_code == 429  # the throttle counts the client, whatever the address
    assert int(answers[3].headers["retry-after"]) > 0
    assert 'action="/admin/sign-in"' in answers[3].text
    assert "Too many sign-in attempts" in answers[3].text
    with session_scope(engine) as session:
        assert (
            len(session.exec(select(SignInFailure)).all()) == 3
        )  # the refused ones touched nothing
