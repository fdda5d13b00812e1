"""Signing in: the lock after five failures in 15 minutes (kept by address, whether or not
an account has it), its end, a success clearing the count, a disabled account refused like
a wrong password, the same cost for an unknown address (both databases)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.accounts.audit import COMMAND_LINE
from newsletter.accounts.models import Account, SignInFailure
from newsletter.accounts.roles import Role
from newsletter.accounts.signin import LockPolicy, SignInLocked, SignInRefused, sign_in
from newsletter.accounts.team import disable_account
from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from tests.newsletter.accounts.helpers import PASSWORD, account, log, make

ADA = "ada@team.example"
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def policy(settings: Settings) -> LockPolicy:
    """The shipped policy: five failures in fifteen minutes."""
    assert (settings.signin_max_failures, settings.signin_lock) == (5, timedelta(minutes=15))
    return LockPolicy(settings.signin_max_failures, settings.signin_lock)


def attempt(engine: Engine, policy: LockPolicy, email: str, password: str) -> str:
    """'ok', 'refused' or the lock's message, at the (travelled) clock's now; committed
    whatever happens, as the route does."""
    with session_scope(engine) as session:
        try:
            sign_in(session, email, password, policy, utcnow())
        except SignInLocked as locked:
            return str(locked)
        except SignInRefused:
            return "refused"
    return "ok"


def test_five_failures_in_fifteen_minutes_lock_for_fifteen_minutes(
    engine: Engine, policy: LockPolicy
) -> None:
    make(engine, ADA, Role.ADMIN)
    with time_machine.travel(START, tick=False) as clock:
        for n in range(5):
            clock.shift(timedelta(minutes=min(n, 1)))  # 9:00, 9:01 ... 9:04
            assert attempt(engine, policy, ADA, "wrong password!") == "refused"
        # the fifth failure was at 9:04: locked until 9:19, whatever the password
        assert "try again in 15 minutes" in attempt(engine, policy, ADA, PASSWORD)
        clock.shift(timedelta(minutes=14, seconds=59))  # 9:18:59
        assert "try again in 1 minute." in attempt(engine, policy, ADA, PASSWORD)
        clock.shift(timedelta(seconds=1))  # 9:19:00, fifteen minutes after the fifth
        assert attempt(engine, policy, ADA, PASSWORD) == "ok"
    actions = [entry[1] for entry in log(engine)]
    assert actions.count("sign-in locked") == 1
    assert actions[-1] == "sign-in"


def test_failures_spread_wider_than_the_window_do_not_lock(
    engine: Engine, policy: LockPolicy
) -> None:
    make(engine, ADA)
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(8):
            assert attempt(engine, policy, ADA, "wrong password!") == "refused"
            clock.shift(timedelta(minutes=4))  # never five within fifteen minutes
        assert attempt(engine, policy, ADA, PASSWORD) == "ok"


def test_old_failures_are_forgotten_as_new_ones_come(engine: Engine, policy: LockPolicy) -> None:
    with time_machine.travel(START, tick=False) as clock:
        for address in ("one@x.example", "two@x.example", "three@x.example"):
            attempt(engine, policy, address, "wrong password!")
            clock.shift(timedelta(minutes=15))
        attempt(engine, policy, "four@x.example", "wrong password!")  # at 9:45
    with session_scope(engine) as session:
        kept = sorted(session.exec(select(SignInFailure.email)).all())
    assert kept == ["four@x.example", "three@x.example"]  # 9:00 and 9:15 are 30 min old


def test_a_success_clears_the_failures(engine: Engine, policy: LockPolicy) -> None:
    make(engine, ADA)
    with time_machine.travel(START, tick=False):
        for _ in range(4):
            attempt(engine, policy, ADA, "wrong password!")
        assert attempt(engine, policy, " ADA@team.example ", PASSWORD) == "ok"  # as typed
        for _ in range(4):
            assert attempt(engine, policy, ADA, "wrong password!") == "refused"
        assert attempt(engine, policy, ADA, PASSWORD) == "ok"  # 4, not 8, in the window
    with session_scope(engine) as session:
        assert session.exec(select(SignInFailure)).all() == []


def test_an_unknown_address_locks_the_same_way(engine: Engine, policy: LockPolicy) -> None:
    with time_machine.travel(START, tick=False):
        answers = [attempt(engine, policy, "ghost@team.example", PASSWORD) for _ in range(6)]
    assert answers[:5] == ["refused"] * 5
    assert "try again in 15 minutes" in answers[5]
    assert log(engine)[-1][:3] == ("ghost@team.example", "sign-in locked", "ghost@team.example")


def test_an_address_with_control_characters_is_refused_and_not_kept(
    engine: Engine, policy: LockPolicy
) -> None:
    """A NUL cannot be stored in PostgreSQL: it must not reach the table (a 500 before)."""
    for typed in ("ada\x00@team.example", "ada@team.example\x1b[2J", "ada\x85x@team.example"):
        assert attempt(engine, policy, typed, PASSWORD) == "refused"
    with session_scope(engine) as session:
        assert session.exec(select(SignInFailure)).all() == []


def test_a_disabled_account_is_refused_like_a_wrong_password(
    engine: Engine, policy: LockPolicy
) -> None:
    make(engine, ADA)
    with session_scope(engine) as session:
        disable_account(session, ADA, COMMAND_LINE)
    with session_scope(engine) as session, pytest.raises(SignInRefused) as refused:
        sign_in(session, ADA, PASSWORD, policy, utcnow())
    with session_scope(engine) as session, pytest.raises(SignInRefused) as unknown:
        sign_in(session, "ghost@team.example", PASSWORD, policy, utcnow())
    assert str(refused.value) == str(unknown.value)
    assert "sign-in" not in [entry[1] for entry in log(engine)]


def test_a_sign_in_rehashes_a_password_stored_with_older_parameters(
    engine: Engine, policy: LockPolicy
) -> None:
    make(engine, ADA)
    weaker = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    with session_scope(engine) as session:
        row = session.exec(select(Account).where(Account.email == ADA)).one()
        row.password_hash = weaker.hash(PASSWORD)
    assert attempt(engine, policy, ADA, PASSWORD) == "ok"
    assert "m=65536,t=3" in account(engine, ADA).password_hash
    assert attempt(engine, policy, ADA, PASSWORD) == "ok"


def _seconds(run: Callable[[], object], times: int = 3) -> float:
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        run()
        spent.append(time.perf_counter() - began)
    return statistics.median(spent)


def test_an_unknown_address_costs_a_password_check_too(engine: Engine) -> None:
    """Without the dummy check an unknown address would answer in a millisecond and a
    wrong password in tens: the difference would tell which addresses have accounts."""
    make(engine, ADA)
    lenient = LockPolicy(1000, timedelta(minutes=15))
    known = _seconds(lambda: attempt(engine, lenient, ADA, "wrong password!"))
    unknown = _seconds(lambda: attempt(engine, lenient, "ghost@team.example", "wrong password!"))
    assert unknown > 0.3 * known
    assert known > 0.005  # a real Argon2 check: milliseconds, not microseconds
