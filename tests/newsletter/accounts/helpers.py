"""Accounts made straight in the database for the accounts package's tests."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.accounts.audit import COMMAND_LINE
from newsletter.accounts.models import Account, AccountSession, AuditEntry
from newsletter.accounts.roles import Role
from newsletter.accounts.sessions import Signed, open_session
from newsletter.accounts.team import add_account, find_account
from newsletter.core.database import session_scope

PASSWORD = "correct horse battery"


def make(engine: Engine, email: str, role: Role = Role.VIEWER) -> None:
    with session_scope(engine) as session:
        add_account(session, email, role, PASSWORD, COMMAND_LINE)


def sign_in_directly(engine: Engine, email: str) -> Signed:
    with session_scope(engine) as session:
        account = find_account(session, email)
        assert account is not None
        return open_session(session, account)


def sessions_of(engine: Engine, email: str) -> int:
    with session_scope(engine) as session:
        account = find_account(session, email)
        assert account is not None
        rows = session.exec(
            select(AccountSession).where(AccountSession.account_id == account.id)
        ).all()
        return len(rows)


def log(engine: Engine) -> list[tuple[str, str, str, str]]:
    """(actor, action, target, detail) of every audit entry, oldest first."""
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [(r.actor, r.action, r.target, r.detail) for r in rows]


def account(engine: Engine, email: str) -> Account:
    with session_scope(engine) as session:
        found = find_account(session, email)
        assert found is not None
        session.expunge(found)
        return found
