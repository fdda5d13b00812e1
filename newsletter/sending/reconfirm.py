"""Confirmation emails for pending addresses that no form brought: an operator's additions
and imports without --confirmed. Without them such an address stays pending, never mailed
and never asked (`newsletter subscribers confirm-pending`).

Each page of addresses is claimed first (their confirmation time set, in one committed
transaction), then emailed, outside any transaction: two runs at once never email the same
address twice, and a slow provider holds no lock. An email that fails is released, so the
next run tries it again. A run killed between the claim and the sends leaves those addresses
marked as asked; they are due again once the link would have expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Backend
from newsletter.sending.confirm import CONFIRM_VALID_DAYS
from newsletter.sending.signup import Confirmation, send_confirmation
from subscribers.consent import (
    DueConfirmation,
    claim_confirmations,
    count_held_back,
    release_confirmation,
)
from subscribers.status import resolve_now

CONFIRM_VALID_FOR = timedelta(days=CONFIRM_VALID_DAYS)
"""A confirmation email older than this holds a dead link: the address is due another."""

PAGE = 200


@dataclass
class ReconfirmReport:
    sent: int = 0
    failed: list[str] = field(default_factory=list)  # addresses whose email did not go out
    held_back: int = 0  # pending with an opt-out on record: only the person opts in again


def send_pending_confirmations(
    engine: Engine,
    settings: Settings,
    backend: Backend,
    *,
    now: datetime | None = None,
) -> ReconfirmReport:
    """Email a confirmation link to every pending address without one outstanding (never
    sent, or sent more than CONFIRM_VALID_DAYS ago) that an operator or an import brought
    and that never opted out. Form sign-ups are left out: the form sent theirs."""
    at = resolve_now(now)
    report = ReconfirmReport()
    after = 0
    while True:
        with session_scope(engine, immediate=True) as session:
            page = claim_confirmations(
                session, now=at, valid_for=CONFIRM_VALID_FOR, after_id=after, limit=PAGE
            )
        if not page:
            break
        after = page[-1].subscriber_id
        failed = [due for due in page if not _send(due, settings, backend)]
        if failed:
            with session_scope(engine, immediate=True) as session:
                for due in failed:
                    release_confirmation(session, due, claimed_at=at)
        report.sent += len(page) - len(failed)
        report.failed.extend(due.email for due in failed)
    with session_scope(engine) as session:
        report.held_back = count_held_back(session)
    return report


def _send(due: DueConfirmation, settings: Settings, backend: Backend) -> bool:
    confirmation = Confirmation(subscriber_id=due.subscriber_id, email=due.email)
    return send_confirmation(confirmation, settings, backend)
