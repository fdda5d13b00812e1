"""The audit log: one row per thing a person did that changed something (and each
sign-in and sign-out), written in the same transaction as the change itself, so the log
never shows what did not happen nor misses what did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlmodel import Session, col, select

from newsletter.accounts.models import AuditEntry
from newsletter.core.clock import utcnow


class Audited(StrEnum):
    SIGN_IN = "sign-in"
    SIGN_IN_LOCKED = "sign-in locked"
    SIGN_OUT = "sign-out"
    ISSUE_CHECK = "issue check"
    ISSUE_APPROVE = "issue approve"
    ISSUE_UNAPPROVE = "issue unapprove"
    ISSUE_HOLD = "issue hold"
    ISSUE_CANCEL = "issue cancel"
    ISSUE_TEST_SEND = "issue test-send"
    ISSUE_SEND = "issue send"
    SUBSCRIBER_ADD = "subscriber add"
    SUBSCRIBER_STATUS = "subscriber status"
    SUBSCRIBER_FORGET = "subscriber forget"
    SUBSCRIBER_IMPORT = "subscriber import"
    SUBSCRIBER_EXPORT = "subscriber export"
    SUPPRESSION_LIFT = "suppression lift"
    ACCOUNT_ADD = "account add"
    ACCOUNT_ROLE = "account role"
    ACCOUNT_DISABLE = "account disable"
    ACCOUNT_ENABLE = "account enable"
    ACCOUNT_PASSWORD = "account password"  # noqa: S105 — an action's name


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in account, or the command line (the person at the server)."""

    account_id: int | None
    name: str


COMMAND_LINE: Final = Actor(None, "command line")


def record(
    session: Session,
    actor: Actor,
    action: Audited,
    target: str = "",
    detail: str = "",
    *,
    at: datetime | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=at or utcnow(),
        account_id=actor.account_id,
        actor=actor.name,
        action=action.value,
        target=target[:300],
        detail=detail[:1000],
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session,
    *,
    before_id: int | None = None,
    limit: int = 50,
    action: Audited | None = None,
) -> Sequence[AuditEntry]:
    """The newest first; `before_id` is the last id of the page before (keyset paging);
    `action` keeps one kind of entry (its column is indexed)."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if before_id is not None:
        query = query.where(col(AuditEntry.id) < before_id)
    if action is not None:
        query = query.where(AuditEntry.action == action.value)
    return session.exec(query).all()
