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

from sqlalchemy import delete
from sqlmodel import Session, col, select

from newsletter.accounts.audit import Actor, Audited, record
from newsletter.accounts.models import EMAIL_MAX, Account, SignInFailure
from newsletter.accounts.passwords import verify
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


def sign_in(
    session: Session, email: str, password: str, policy: LockPolicy, now: datetime
) -> Account:
    """The account, or SignInLocked / SignInRefused. Call in a write transaction: a
    failure is recorded (and must be committed even though this raises; see the route)."""
    address = _typed_address(email)
    if not _storable(address):
        verify(password, None)  # the same cost as any other refusal
        raise SignInRefused()
    until = locked_until(session, address, policy, now)
    if until is not None:
        raise SignInLocked(max(1, math.ceil((until - now).total_seconds() / 60)))
    account = session.exec(select(Account).where(Account.email == address)).first()
    usable = account is not None and account.disabled_at is None
    matches, new_hash = verify(password, account.password_hash if usable and account else None)
    if not matches or account is None:
        forget_old_failures(session, policy, now)
        session.add(SignInFailure(email=address, at=now))
        session.flush()
        if locked_until(session, address, policy, now) is not None:
            actor = Actor(account.id if account else None, address)
            record(session, actor, Audited.SIGN_IN_LOCKED, address, at=now)
        raise SignInRefused()
    session.execute(delete(SignInFailure).where(col(SignInFailure.email) == address))
    if new_hash:
        account.password_hash = new_hash
        session.add(account)
    record(session, Actor(account.id, account.email), Audited.SIGN_IN, at=now)
    return account
