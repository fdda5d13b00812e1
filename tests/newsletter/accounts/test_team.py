"""Managing the team: the last admin stays, rights taken away end sessions, every change
is in the audit log (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from newsletter.accounts.audit import COMMAND_LINE, Actor
from newsletter.accounts.passwords import WeakPassword
from newsletter.accounts.roles import Role
from newsletter.accounts.team import (
    AccountExists,
    AccountNotFound,
    LastAdmin,
    add_account,
    disable_account,
    enable_account,
    list_accounts,
    reset_password,
    role_of,
    set_role,
)
from newsletter.core.database import session_scope
from newsletter.core.errors import InvalidInput
from tests.newsletter.accounts.helpers import (
    PASSWORD,
    account,
    log,
    make,
    sessions_of,
    sign_in_directly,
)

ADA = Actor(1, "ada@team.example")


def test_add_normalises_refuses_twins_weak_passwords_and_bad_addresses(engine: Engine) -> None:
    make(engine, " Ada@Team.Example ", Role.ADMIN)
    with session_scope(engine) as session:
        assert [a.email for a in list_accounts(session)] == ["ada@team.example"]
        with pytest.raises(AccountExists):
            add_account(session, "ADA@team.example", Role.VIEWER, PASSWORD, COMMAND_LINE)
        with pytest.raises(WeakPassword):
            add_account(session, "bob@team.example", Role.VIEWER, "short", COMMAND_LINE)
        with pytest.raises(InvalidInput, match="not an email address"):
            add_account(session, "bob@", Role.VIEWER, PASSWORD, COMMAND_LINE)
    stored = account(engine, "ada@team.example")
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert log(engine) == [("command line", "account add", "ada@team.example", "role admin")]


def test_role_names_are_checked() -> None:
    assert role_of(" Editor ") is Role.EDITOR
    with pytest.raises(InvalidInput, match="viewer, editor, admin"):
        role_of("owner")


def test_the_last_active_admin_can_be_neither_demoted_nor_disabled(engine: Engine) -> None:
    make(engine, "ada@team.example", Role.ADMIN)
    make(engine, "bob@team.example", Role.ADMIN)
    with session_scope(engine) as session:
        disable_account(session, "bob@team.example", ADA)
    for change in (
        lambda s: set_role(s, "ada@team.example", Role.EDITOR, COMMAND_LINE),
        lambda s: disable_account(s, "ada@team.example", COMMAND_LINE),
    ):
        with session_scope(engine) as session, pytest.raises(LastAdmin, match="last active admin"):
            change(session)
    assert account(engine, "ada@team.example").role == "admin"
    assert account(engine, "ada@team.example").disabled_at is None
    with session_scope(engine) as session:
        set_role(session, "bob@team.example", Role.VIEWER, ADA)  # a disabled admin: no matter
        set_role(session, "ada@team.example", Role.ADMIN, COMMAND_LINE)  # admin to admin: fine
        enable_account(session, "bob@team.example", ADA)
        set_role(session, "bob@team.example", Role.ADMIN, ADA)
    with session_scope(engine) as session:
        set_role(session, "ada@team.example", Role.VIEWER, COMMAND_LINE)  # bob is admin now


def test_the_same_role_again_keeps_the_sessions(engine: Engine) -> None:
    make(engine, "eve@team.example", Role.EDITOR)
    sign_in_directly(engine, "eve@team.example")
    with session_scope(engine) as session:
        set_role(session, "eve@team.example", Role.EDITOR, ADA)
    assert sessions_of(engine, "eve@team.example") == 1


@pytest.mark.parametrize("change", ["role", "disable", "password"])
def test_taking_rights_away_ends_every_session(engine: Engine, change: str) -> None:
    make(engine, "ada@team.example", Role.ADMIN)
    make(engine, "eve@team.example", Role.EDITOR)
    for _ in range(2):
        sign_in_directly(engine, "eve@team.example")
    sign_in_directly(engine, "ada@team.example")
    with session_scope(engine) as session:
        if change == "role":
            set_role(session, "eve@team.example", Role.VIEWER, ADA)
        elif change == "disable":
            disable_account(session, "eve@team.example", ADA)
        else:
            reset_password(session, "eve@team.example", "a brand new password", ADA)
    assert sessions_of(engine, "eve@team.example") == 0
    assert sessions_of(engine, "ada@team.example") == 1  # nobody else's


def test_every_change_is_audited_with_who_and_what(engine: Engine) -> None:
    make(engine, "ada@team.example", Role.ADMIN)
    with session_scope(engine) as session:
        add_account(session, "eve@team.example", Role.EDITOR, PASSWORD, ADA)
        set_role(session, "eve@team.example", Role.VIEWER, ADA)
        set_role(session, "eve@team.example", Role.VIEWER, ADA)  # the same: nothing to log
        disable_account(session, "eve@team.example", ADA)
        disable_account(session, "eve@team.example", ADA)  # already: nothing more to log
        enable_account(session, "eve@team.example", ADA)
        enable_account(session, "eve@team.example", ADA)
        reset_password(session, "eve@team.example", "a brand new password", ADA)
    eve = "eve@team.example"
    assert log(engine)[1:] == [
        (ADA.name, "account add", eve, "role editor"),
        (ADA.name, "account role", eve, "editor → viewer"),
        (ADA.name, "account disable", eve, ""),
        (ADA.name, "account enable", eve, ""),
        (ADA.name, "account password", eve, ""),
    ]
    assert PASSWORD not in str(log(engine))


def test_a_refused_change_changes_and_logs_nothing(engine: Engine) -> None:
    make(engine, "ada@team.example", Role.ADMIN)
    before = log(engine)
    with pytest.raises(AccountNotFound), session_scope(engine) as session:
        set_role(session, "nobody@team.example", Role.ADMIN, ADA)
    with pytest.raises(WeakPassword), session_scope(engine) as session:
        reset_password(session, "ada@team.example", "short", ADA)
    with pytest.raises(LastAdmin), session_scope(engine) as session:
        disable_account(session, "ada@team.example", ADA)
    assert log(engine) == before
