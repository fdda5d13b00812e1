"""Managing the team's accounts: add, list, change role, disable, enable, new password.

Each change is recorded in the audit log in the same transaction, and every change that
takes rights away (role, disable, password) ends the account's open sessions. The last
active admin cannot be demoted or disabled: the desk would have no one to manage it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from newsletter.accounts.audit import Actor, Audited, record
from newsletter.accounts.models import EMAIL_MAX, Account, AccountSession
from newsletter.accounts.passwords import hash_password
from newsletter.accounts.roles import Role
from newsletter.core.clock import utcnow
from newsletter.core.database import serialize
from newsletter.core.errors import Conflict, InvalidInput, NotFound, Refused


class AccountNotFound(NotFound):
    pass


class AccountExists(Conflict):
    pass


class LastAdmin(Refused):
    pass


def account_email(raw: str) -> str:
    """An account's address, normalised (lower case, IDN domain as typed)."""
    text = raw.strip()
    if not text or len(text) > EMAIL_MAX:
        raise InvalidInput(f"email: {raw!r} is not an email address")
    try:
        found = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"email: {raw!r} is not an email address ({exc})") from None
    return found.normalized.lower()


def role_of(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise InvalidInput(f"role: {raw!r} is not one of {names}") from None


def find_account(session: Session, email: str) -> Account | None:
    return session.exec(select(Account).where(Account.email == email)).first()


def get_account(session: Session, email: str) -> Account:
    found = find_account(session, account_email(email))
    if found is None:
        raise AccountNotFound(f"no account for {email}")
    return found


def list_accounts(session: Session) -> Sequence[Account]:
    return session.exec(select(Account).order_by(col(Account.email))).all()


def add_account(session: Session, email: str, role: Role, password: str, actor: Actor) -> Account:
    address = account_email(email)
    if find_account(session, address) is not None:
        raise AccountExists(f"{address} already has an account")
    account = Account(email=address, role=role, password_hash=hash_password(password))
    session.add(account)
    session.flush()
    record(session, actor, Audited.ACCOUNT_ADD, address, f"role {role.value}")
    return account


def end_sessions(session: Session, account_id: int) -> None:
    session.execute(delete(AccountSession).where(col(AccountSession.account_id) == account_id))


def _other_active_admins(session: Session, account: Account) -> int:
    query = select(func.count()).where(
        Account.role == Role.ADMIN,
        col(Account.disabled_at).is_(None),
        Account.id != account.id,
    )
    return session.exec(query).one()


def _keep_an_admin(session: Session, account: Account) -> None:
    """Two admins demoting each other at once must not both succeed: on PostgreSQL the
    count is taken under a lock held to the end of the transaction (SQLite's writers
    already take turns, see `session_scope(immediate=True)`)."""
    active_admin = account.role == Role.ADMIN and account.disabled_at is None
    if not active_admin:
        return
    serialize(session, "accounts.last-admin")
    if _other_active_admins(session, account) == 0:
        raise LastAdmin(f"{account.email} is the last active admin: add another first")


def set_role(session: Session, email: str, role: Role, actor: Actor) -> Account:
    account = get_account(session, email)
    if account.role == role:
        return account  # nothing changes: no one is signed out, nothing is logged
    if role != Role.ADMIN:
        _keep_an_admin(session, account)
    before = account.role
    account.role = role
    session.add(account)
    assert account.id is not None
    end_sessions(session, account.id)
    record(session, actor, Audited.ACCOUNT_ROLE, account.email, f"{before} → {role.value}")
    return account


def disable_account(
    session: Session, email: str, actor: Actor, *, now: datetime | None = None
) -> Account:
    account = get_account(session, email)
    _keep_an_admin(session, account)
    if account.disabled_at is None:
        account.disabled_at = now or utcnow()
        session.add(account)
        record(session, actor, Audited.ACCOUNT_DISABLE, account.email)
    assert account.id is not None
    end_sessions(session, account.id)
    return account


def enable_account(session: Session, email: str, actor: Actor) -> Account:
    account = get_account(session, email)
    if account.disabled_at is not None:
        account.disabled_at = None
        session.add(account)
        record(session, actor, Audited.ACCOUNT_ENABLE, account.email)
    return account


def reset_password(
    session: Session, email: str, password: str, actor: Actor, *, now: datetime | None = None
) -> Account:
    account = get_account(session, email)
    account.password_hash = hash_password(password)
    account.password_changed_at = now or utcnow()
    session.add(account)
    assert account.id is not None
    end_sessions(session, account.id)
    record(session, actor, Audited.ACCOUNT_PASSWORD, account.email)
    return account
