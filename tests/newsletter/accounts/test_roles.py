"""The roles table: every action has a least role, and each role allows what the roles
below it allow."""

from __future__ import annotations

from newsletter.accounts.audit import Audited
from newsletter.accounts.roles import REQUIRED, Action, Role, allows


def test_every_action_has_a_least_role() -> None:
    assert set(REQUIRED) == set(Action)


def test_each_role_allows_what_the_roles_below_it_allow() -> None:
    ordered = sorted(Role, key=lambda role: role.rank)
    assert ordered == [Role.VIEWER, Role.EDITOR, Role.ADMIN]
    for action in Action:
        granted = [allows(role, action) for role in ordered]
        assert granted == sorted(granted), action  # False ... then True
        assert allows(Role.ADMIN, action)


def test_the_issues_split() -> None:
    """A viewer reads; an editor works on issues; only an admin changes the list and the
    team, and reads the audit log."""
    editor_only = {a for a in Action if a.value.startswith("issue.")}
    assert {a for a in Action if allows(Role.VIEWER, a)} == {Action.READ}
    assert {a for a in Action if allows(Role.EDITOR, a)} == {Action.READ} | editor_only
    assert allows("admin", Action.ACCOUNT_MANAGE)


def test_every_audited_name_fits_its_column() -> None:
    assert all(len(kind.value) <= 40 for kind in Audited)
