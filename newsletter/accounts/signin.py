"""Signing in: the password check and the lock after repeated failures.

The lock is kept per address, not per account: an address without an account locks the
same way and the answers are the same, so the sign-in page tells no one which addresses
have accounts. A locked address is refused without checking the password (a right guess
during the lock does not get in, and says nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from newsletter.accounts.audit import Actor, Audited, record
from newsletter.accounts.models import EMAIL_MAX, Account, SignInFailure
from newsletter.accounts.passwords import verify
from newsletter.accounts.sessions import Signed, open_session
from newsletter.core.database import session_scope
from newsletter.core.errors import Refused


class SignInRefused(Refused):
    """Wrong address or password: the same message whichever it was."""

    def __init__(self) -> None:
        super().__init__("That address and password do not match an account.")


class SignInLocked(Refused):
    def __init__(self, minutes: int) -> None:
        self.minutes = minutes
        plural = "s" if minutes != 1 else ""
        super().__init__(
            f"Too many failed sign-ins for this address: try again in {minutes} minute{plural}."
        )


@dataclass(frozen=True)
class LockPolicy:
    failures: int
    window: timedelta


def _typed_address(raw: str) -> str:
    """What the lock is kept by: the address as typed, trimmed and lower case (a typo
    locks only itself)."""
    return raw.strip().lower()[:EMAIL_MAX]


def _storable(address: str) -> bool:
    """Whether the typed address can be looked up and kept: no control characters (a NUL
    is refused by PostgreSQL; no account's address holds any). One that cannot is refused
    like an unknown address, and nothing is recorded for it."""
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in address)


def locked_until(
    session: Session, address: str, policy: LockPolicy, now: datetime
) -> datetime | None:
    """When the lock on `address` ends, or None. The lock runs `window` from the failure
    that completed `failures` within `window`; no failure is recorded while it runs, so
    that failure is the latest one. (Counting only the last `window` before now would end
    the lock when the first of those failures grew old, minutes early.)"""
    recent = session.exec(
        select(SignInFailure.at)
        .where(SignInFailure.email == address, col(SignInFailure.at) > now - 2 * policy.window)
        .order_by(col(SignInFailure.at).desc())
        .limit(policy.failures)
    ).all()
    if not recent or recent[0] + policy.window <= now:
        return None
    last = recent[0]
    if sum(1 for at in recent if at > last - policy.window) < policy.failures:
        return None
    return last + policy.window


def forget_old_failures(session: Session, policy: LockPolicy, now: datetime) -> None:
    """Failures too old to count towards a lock are dropped as new ones come, so guessed
    addresses that never sign in do not pile up: the table holds at most the last two
    windows' failures, and this scan stays small."""
    old = now - 2 * policy.window
    session.execute(delete(SignInFailure).where(col(SignInFailure.at) <= old))


@dataclass(frozen=True)
class Attempt:
    """What the short read before the password check found for a typed address."""

    address: str
    storable: bool
    account_id: int | None
    password_hash: str | None  # None: no usable account (unknown or disabled)


@dataclass(frozen=True)
class Verdict:
    """The password check's answer, reached with no transaction open."""

    matches: bool
    new_hash: str | None


def look_up(session: Session, email: str, policy: LockPolicy, now: datetime) -> Attempt:
    """Read the lock and the account (SignInLocked if the address is locked): reads only."""
    address = _typed_address(email)
    if not _storable(address):
        return Attempt(address, False, None, None)
    _refuse_if_locked(session, address, policy, now)
    account = session.exec(select(Account).where(Account.email == address)).first()
    if account is None or account.disabled_at is not None:
        return Attempt(address, True, account.id if account else None, None)
    return Attempt(address, True, account.id, account.password_hash)


def check_password(attempt: Attempt, password: str) -> Verdict:
    """The slow Argon2 check, against a dummy hash when there is no usable account (the
    same cost either way). Takes no session: nothing is held while it runs."""
    matches, new_hash = verify(password, attempt.password_hash)
    return Verdict(matches and attempt.password_hash is not None, new_hash)


def _refuse_if_locked(session: Session, address: str, policy: LockPolicy, now: datetime) -> None:
    until = locked_until(session, address, policy, now)
    if until is not None:
        raise SignInLocked(max(1, math.ceil((until - now).total_seconds() / 60)))


def settle(
    session: Session, attempt: Attempt, verdict: Verdict, policy: LockPolicy, now: datetime
) -> Account:
    """Record the attempt and answer: the account, or SignInLocked / SignInRefused. Call
    in a short write transaction, committed even when this raises (a failure is recorded).

    The lock and the account are read again: failures recorded by others while the
    password was checked may have locked the address (a right password then does not get
    in), and the account may have been disabled or its password changed meanwhile (the
    checked hash is no longer the account's: refused like a wrong password)."""
    if not attempt.storable:
        raise SignInRefused()
    _refuse_if_locked(session, attempt.address, policy, now)
    account = session.exec(select(Account).where(Account.email == attempt.address)).first()
    current = account.password_hash if account is not None and account.disabled_at is None else None
    if not verdict.matches or account is None or current != attempt.password_hash:
        forget_old_failures(session, policy, now)
        session.add(SignInFailure(email=attempt.address, at=now))
        session.flush()
        if locked_until(session, attempt.address, policy, now) is not None:
            actor = Actor(account.id if account else None, attempt.address)
            record(session, actor, Audited.SIGN_IN_LOCKED, attempt.address, at=now)
        raise SignInRefused()
    session.execute(delete(SignInFailure).where(col(SignInFailure.email) == attempt.address))
    if verdict.new_hash:
        account.password_hash = verdict.new_hash
        session.add(account)
    record(session, Actor(account.id, account.email), Audited.SIGN_IN, at=now)
    return account


def sign_in(
    session: Session, email: str, password: str, policy: LockPolicy, now: datetime
) -> Account:
    """The three steps in one session (the command line, the tests): the account, or
    SignInLocked / SignInRefused; commit even when this raises. The desk uses
    `sign_in_apart`, which checks the password with no transaction open."""
    attempt = look_up(session, email, policy, now)
    return settle(session, attempt, check_password(attempt, password), policy, now)


def sign_in_apart(
    engine: Engine, email: str, password: str, policy: LockPolicy, now: datetime
) -> Signed:
    """Sign in and open a session: a short read, the password check with no transaction
    open, then a short write that records the failure (committed, then raised) or the
    success and the new session.

    Why apart: on SQLite a write transaction holds the database's one write lock, and an
    Argon2 check takes tens of milliseconds; anonymous sign-in attempts held inside it
    would queue every writer of the app behind them."""
    with session_scope(engine) as session:
        attempt = look_up(session, email, policy, now)
    verdict = check_password(attempt, password)
    refusal: Refused | None = None
    with session_scope(engine, immediate=True) as session:
        try:
            account = settle(session, attempt, verdict, policy, now)
        except (SignInLocked, SignInRefused) as refused:
            refusal = refused
        else:
            return open_session(session, account)
    raise refusal
