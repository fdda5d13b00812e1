"""The deliverability pause: a send stops itself when its events show too many hard bounces
or spam reports.

Why: a list with many dead or hostile addresses gets a sender's whole domain blocked by the
big mailbox providers; finishing the send would make it worse. Once at least
`pause_min_delivered` recipients are delivered (fewer would be noise), a hard-bounce share
above `pause_hard_bounce_rate` or a complaint share above `pause_complaint_rate` (both of
delivered) moves the issue from `sending` to `paused` with cause `deliverability`. The
running sender finds the issue not sending at its next claim and stops. Such a pause never
ends by itself (`sending.settle.RESUMING_CAUSES` leaves it out): an operator looks at the
list and resumes with `issue send`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlmodel import Session

from newsletter.core.settings import Settings
from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import SENDING, IssueStatus, PauseCause
from newsletter.tracking.match import IssueRef
from newsletter.tracking.models import Tally
from newsletter.tracking.tallies import read_tallies


def pause_reason(counts: Mapping[str, int], settings: Settings) -> str | None:
    """Why these counters call for a pause, or None if they do not."""
    delivered = counts.get(Tally.DELIVERED, 0)
    if delivered < settings.pause_min_delivered:
        return None
    hard = counts.get(Tally.BOUNCED_HARD, 0)
    complaints = counts.get(Tally.COMPLAINED, 0)
    over = []
    if hard / delivered > settings.pause_hard_bounce_rate:
        over.append(
            f"{hard} hard bounces ({hard / delivered:.2%} of {delivered} delivered, "
            f"limit {settings.pause_hard_bounce_rate:.2%})"
        )
    if complaints / delivered > settings.pause_complaint_rate:
        over.append(
            f"{complaints} spam reports ({complaints / delivered:.2%} of {delivered} "
            f"delivered, limit {settings.pause_complaint_rate:.2%})"
        )
    if not over:
        return None
    return "paused for deliverability: " + " and ".join(over) + "; resume with `issue send`"


def pause_if_needed(
    session: Session, issue_ids: Collection[int], issues: Mapping[int, IssueRef], settings: Settings
) -> list[int]:
    """Pause each of these issues that is sending and over a limit; their numbers."""
    sending = sorted(i for i in issue_ids if issues[i].status == IssueStatus.SENDING)
    paused = []
    for issue_id, counts in read_tallies(session, sending).items():
        reason = pause_reason(counts, settings)
        if reason is not None and lifecycle.move(
            session,
            issue_id,
            SENDING,
            IssueStatus.PAUSED,
            reason=reason,
            cause=PauseCause.DELIVERABILITY,
        ):
            paused.append(issues[issue_id].number)
    return paused
