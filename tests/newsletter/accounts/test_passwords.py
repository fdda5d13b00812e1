"""Passwords: Argon2id, bounded lengths, re-hashed when the parameters change."""

from __future__ import annotations

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from newsletter.accounts.passwords import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    WeakPassword,
    hash_password,
    typed_twice,
    verify,
)
from newsletter.core.errors import InvalidInput

SECRET = "correct horse battery"


def test_hashes_are_argon2id_salted_and_verify() -> None:
    first, second = hash_password(SECRET), hash_password(SECRET)
    assert first.startswith("$argon2id$")
    assert first != second  # a salt each
    assert verify(SECRET, first) == (True, None)
    assert verify(SECRET + "!", first) == (False, None)


def test_lengths_are_bounded() -> None:
    with pytest.raises(WeakPassword, match=f"at least {PASSWORD_MIN}"):
        hash_password("x" * (PASSWORD_MIN - 1))
    with pytest.raises(WeakPassword, match=f"at most {PASSWORD_MAX}"):
        hash_password("x" * (PASSWORD_MAX + 1))
    assert hash_password("x" * PASSWORD_MIN)


def test_an_older_hash_is_replaced_at_the_next_match() -> None:
    weaker = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    old = weaker.hash(SECRET)
    matches, new = verify(SECRET, old)
    assert matches
    assert new is not None
    assert "m=65536,t=3" in new
    assert verify(SECRET, new) == (True, None)
    assert verify("not it at all", old) == (False, None)  # no new hash for a wrong one


def test_no_account_still_costs_a_hash_and_never_matches() -> None:
    assert verify(SECRET, None) == (False, None)


def test_typed_twice() -> None:
    assert typed_twice(SECRET, SECRET) == SECRET
    with pytest.raises(InvalidInput, match="differ"):
        typed_twice(SECRET, SECRET + " ")
    with pytest.raises(WeakPassword):
        typed_twice("short", "short")
