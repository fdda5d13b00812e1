"""What an issue must pass before it may go out, decided in one place.

Two rules. The editor's checks (`checks`, as `newsletter issue check` runs them, without
the networked `--links` one) find no error: a subject with a line break, an email without
its unsubscribe link or past Gmail's clipping line never reaches a reader. And an approved
issue still holds the very snapshot that was approved: its hash is computed again from the
stored subject, preheader, HTML and text, so a snapshot changed behind the service's back
(a stray UPDATE, a restored backup) is caught rather than sent.

`ensure_fit_to_send` applies both. Approving runs it, and so does the start of every send
(the CLI's, the scheduler's), so the two can never disagree about what may go out; joining
or resuming a send that already started does not, since part of the list has it already.
The preview runs the same `check_issue` to show the findings.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from newsletter.core.errors import Refused
from newsletter.core.settings import Settings
from newsletter.delivery import Recipient
from newsletter.links.personalize import SAMPLE_SUBSCRIBER_ID, Personalizer, vote_slots
from newsletter.links.tokens import Signer
from newsletter.publishing.checks import Finding, Level, run_checks
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.publishing.render import ComparisonView, Snapshot, issue_view

SAMPLE_ID = SAMPLE_SUBSCRIBER_ID
SAMPLE_EMAIL = "sample.reader@example.com"
SAMPLE_NAME = "Sample Reader"
ERRORS_NAMED = 3
"""How many of the errors a refusal names in its one line (`issue check` lists them all)."""


class IssueNotReady(Refused):
    """The issue may not go out as it stands; the message names it and what to do."""


class ChecksFailed(IssueNotReady):
    """The editor's checks find errors in the issue's snapshot."""


class SnapshotChanged(IssueNotReady):
    """An approved issue's snapshot is no longer the one that was approved."""


@dataclass(frozen=True)
class Checked:
    """The checks of one issue as the sample subscriber gets it, and what they read."""

    recipient: Recipient
    comparisons: list[ComparisonView]
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.ERROR]


def sample_recipient(session: Session, issue: Issue, settings: Settings) -> Recipient:
    """A subscriber who is nobody (id 0), with real signed links: what previews and checks
    fill the placeholders with. The pages those links lead to work and say they are a
    sample's, and their buttons change nothing (`links.personalize.is_sample`)."""
    personalizer = Personalizer(issue, vote_slots(issue), settings, Signer(settings.secret()))
    return personalizer.recipient(SAMPLE_ID, SAMPLE_EMAIL, SAMPLE_NAME)


def check_issue(
    session: Session, issue: Issue, settings: Settings, *, links: bool = False
) -> Checked:
    """Every check on the stored snapshot; `links` adds the slow, networked one."""
    recipient = sample_recipient(session, issue, settings)
    comparisons = issue_view(session, issue, settings).comparisons
    findings = run_checks(
        subject=issue.subject,
        preheader=issue.preheader,
        html=issue.html,
        text=issue.text,
        recipient=recipient,
        comparisons=comparisons,
        site_url=settings.site_url,
        postal_address=settings.postal_address,
        links=links,
    )
    return Checked(recipient, comparisons, findings)


def snapshot_hash(issue: Issue) -> str:
    """The hash of what the issue would send, from its stored parts (never from the stored
    `content_hash`, which a change behind the service's back would leave as it was)."""
    return Snapshot(issue.subject, issue.preheader, issue.mjml, issue.html, issue.text).content_hash


def ensure_fit_to_send(session: Session, issue: Issue, settings: Settings) -> None:
    """Raise `IssueNotReady` unless `issue` may go out as it stands (see the module
    docstring); `issue` is read as the caller's transaction has it."""
    n = issue.number
    if issue.status == IssueStatus.APPROVED and snapshot_hash(issue) != issue.approved_hash:
        raise SnapshotChanged(
            f"issue #{n} is not sent: its snapshot is no longer the one that was approved; "
            f"run `newsletter issue unapprove {n}`, check it, and approve it again"
        )
    errors = check_issue(session, issue, settings).errors
    if errors:
        named = "; ".join(f"{e.check}: {e.message}" for e in errors[:ERRORS_NAMED])
        more = f"; and {len(errors) - ERRORS_NAMED} more" if len(errors) > ERRORS_NAMED else ""
        raise ChecksFailed(
            f"issue #{n} cannot go out: the checks found {len(errors)} error(s): {named}{more} "
            f"(`newsletter issue check {n}` shows them all)"
        )
