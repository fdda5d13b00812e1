"""Roles and what each may do: one table (`REQUIRED`) that the desk's routes, its
templates (which buttons show) and the tests read.

A role allows everything the roles below it allow: a viewer reads, an editor also works
on issues, an admin also changes the list and manages the team.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return RANKS[self]


RANKS: Final = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


class Action(StrEnum):
    """Something a signed-in person asks the desk to do."""

    READ = "read"
    """Every page but the team's and the audit log."""
    ISSUE_CHECK = "issue.check"
    ISSUE_APPROVE = "issue.approve"
    ISSUE_UNAPPROVE = "issue.unapprove"
    ISSUE_HOLD = "issue.hold"
    ISSUE_CANCEL = "issue.cancel"
    ISSUE_TEST_SEND = "issue.test_send"
    ISSUE_SEND = "issue.send"
    SUBSCRIBER_ADD = "subscriber.add"
    SUBSCRIBER_STATUS = "subscriber.status"
    SUBSCRIBER_FORGET = "subscriber.forget"
    SUBSCRIBER_IMPORT = "subscriber.import"
    SUBSCRIBER_EXPORT = "subscriber.export"
    SUPPRESSION_LIFT = "suppression.lift"
    ACCOUNT_MANAGE = "account.manage"
    AUDIT_READ = "audit.read"


REQUIRED: Final[dict[Action, Role]] = {
    Action.READ: Role.VIEWER,
    Action.ISSUE_CHECK: Role.EDITOR,
    Action.ISSUE_APPROVE: Role.EDITOR,
    Action.ISSUE_UNAPPROVE: Role.EDITOR,
    Action.ISSUE_HOLD: Role.EDITOR,
    Action.ISSUE_CANCEL: Role.EDITOR,
    Action.ISSUE_TEST_SEND: Role.EDITOR,
    Action.ISSUE_SEND: Role.EDITOR,
    Action.SUBSCRIBER_ADD: Role.ADMIN,
    Action.SUBSCRIBER_STATUS: Role.ADMIN,
    Action.SUBSCRIBER_FORGET: Role.ADMIN,
    Action.SUBSCRIBER_IMPORT: Role.ADMIN,
    Action.SUBSCRIBER_EXPORT: Role.ADMIN,
    Action.SUPPRESSION_LIFT: Role.ADMIN,
    Action.ACCOUNT_MANAGE: Role.ADMIN,
    Action.AUDIT_READ: Role.ADMIN,
}
"""The least role that may do each action (a test checks every action is listed)."""


def allows(role: Role | str, action: Action) -> bool:
    return Role(role).rank >= REQUIRED[action].rank
