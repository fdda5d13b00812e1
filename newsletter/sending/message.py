"""The message an issue goes out as: its frozen snapshot and the list's identity."""

from __future__ import annotations

from dataclasses import replace

from newsletter.core.settings import Settings
from newsletter.delivery import Message
from newsletter.delivery.message import BATCH_ARG, ISSUE_ARG
from newsletter.links.urls import SiteUrls
from newsletter.publishing.models import Issue


def action_urls(settings: Settings, issue_number: int | None = None) -> tuple[str, ...]:
    """The site's URLs that act for the recipient (confirm, unsubscribe, resubscribe, vote,
    and the issue's own page, the "view in the browser" link): a provider's click tracking
    must never rewrite them. Links to the site's comparison pages are content, and are not
    listed."""
    urls = SiteUrls(settings.site_url)
    prefixes = (urls.confirm_base, urls.unsubscribe_base, urls.resubscribe_base, urls.vote_base)
    return prefixes + ((urls.issue(issue_number),) if issue_number is not None else ())


def issue_message(issue: Issue, settings: Settings, *, test: bool = False) -> Message:
    """The issue as a message: its snapshot, the list's sender and identity, categories,
    tracked as NEWSLETTER_TRACKING says (a test send too: it is what readers will get)."""
    subject = f"[TEST] {issue.subject}" if test else issue.subject
    return Message(
        subject=subject,
        html=issue.html,
        text=issue.text,
        from_email=settings.from_email,
        from_name=settings.from_name,
        list_id=f"{settings.from_name} <{settings.list_id}>",
        categories=("issue", f"issue-{issue.number}") + (("test",) if test else ()),
        test=test,
        tracking=settings.tracking == "on",
        action_urls=action_urls(settings, issue.number),
    )


def batch_message(message: Message, issue: Issue, seq: int) -> Message:
    """The message as one batch sends it: its custom_args name the issue and the batch, so
    the event webhook can find the batch (an `unknown` one in particular)."""
    return replace(message, custom_args={ISSUE_ARG: str(issue.number), BATCH_ARG: str(seq)})
