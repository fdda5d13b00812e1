"""Passwords: hashed with Argon2id through pwdlib (its recommended parameters), checked
in constant time, and re-hashed at sign-in when the parameters change."""

from __future__ import annotations

from typing import Final

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from newsletter.core.errors import InvalidInput

PASSWORD_MIN: Final = 12
PASSWORD_MAX: Final = 1024
"""Long enough to resist guessing with the lock in place; bounded so that hashing one
sign-in attempt stays cheap."""

_HASHER: Final = PasswordHash((Argon2Hasher(),))
_DUMMY: Final = _HASHER.hash("a password nobody has, for timing")
"""Checked when no account has the address, so a sign-in takes as long either way."""


class WeakPassword(InvalidInput):
    """A new password that is too short or too long."""


def checked(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise WeakPassword(f"password: at least {PASSWORD_MIN} characters, please")
    if len(password) > PASSWORD_MAX:
        raise WeakPassword(f"password: at most {PASSWORD_MAX} characters")
    return password


def typed_twice(first: str, again: str) -> str:
    """The new password, when both entries agree (a typo in a hidden field would otherwise
    lock its owner out)."""
    if first != again:
        raise InvalidInput("password: the two entries differ; nothing was changed")
    return checked(first)


def hash_password(password: str) -> str:
    return _HASHER.hash(checked(password))


def verify(password: str, stored: str | None) -> tuple[bool, str | None]:
    """(matches, a new hash to store when the stored one uses older parameters)."""
    if stored is None:
        _HASHER.verify(password[:PASSWORD_MAX], _DUMMY)
        return False, None
    return _HASHER.verify_and_update(password[:PASSWORD_MAX], stored)
