"""Every kind of link the service sends, for one sent issue and a few subscribers: what
the link tests (plain HTTP and Chromium) open, and how each would show it acted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import placeholders
from newsletter.links.personalize import Personalizer, vote_slots
from newsletter.links.tokens import Signer
from newsletter.links.urls import SiteUrls
from newsletter.publishing.content import load_content
from newsletter.publishing.gate import sample_recipient
from newsletter.publishing.issues import build_issue
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue, Tool, Vote
from newsletter.sending.optout import unsubscribe_by_link
from subscribers.models import Source, Status
from subscribers.service import add_subscriber, find_subscriber, set_status
from tests.factories import comparison, tool, write_content

READER = "reader@example.com"  # active: votes and unsubscribes
NEWCOMER = "newcomer@example.com"  # pending: confirms
LEAVER = "leaver@example.com"  # unsubscribed by its link: re-subscribes
TITLE = "Alpha Tool vs Beta Tool"


@dataclass(frozen=True)
class Links:
    """Absolute URLs, one per kind, each a POST's address too (the page's button)."""

    confirm: str  # the newcomer's confirmation link
    vote: str  # the reader's vote for Alpha Tool
    other_vote: str  # the reader's vote for Beta Tool
    unsubscribe: str  # the reader's unsubscribe link (and List-Unsubscribe)
    resubscribe: str  # the leaver's "changed my mind"

    def kinds(self) -> dict[str, str]:
        return {
            "confirm": self.confirm,
            "vote": self.vote,
            "unsubscribe": self.unsubscribe,
            "resubscribe": self.resubscribe,
        }


def sent_issue(engine: Engine, settings: Settings, root: Path, *, tools_on_site: bool) -> Issue:
    """One sent issue of one comparison (Alpha Tool vs Beta Tool). `tools_on_site` points
    the tools' own links at the site, so a link check needs no other server."""
    extra = {"url": SiteUrls(settings.site_url).home()} if tools_on_site else {}
    tools = [tool("alpha-tool", **extra), tool("beta-tool", **extra)]
    write_content(root, [comparison("one", "2026-11-24", tools=tools)])
    with session_scope(engine) as session:
        load_content(session, root)
    with session_scope(engine) as session:
        issue = build_issue(session, "2026-W48", settings).issue
        issue.status = IssueStatus.SENT
    return issue


def subscriber_id(engine: Engine, address: str, status: Status = Status.ACTIVE) -> int:
    """Add `address` with `status` (as an operator would set it); its id."""
    with session_scope(engine) as session:
        found = add_subscriber(
            session, address, source=Source.CLI, confirmed=status != Status.PENDING
        )
        session.flush()
        if status not in (Status.ACTIVE, Status.PENDING):
            set_status(session, found.id or 0, status, reason="test", source=Source.CLI)
        return found.id or 0


def personal_links(
    engine: Engine, settings: Settings, issue: Issue, sid: int
) -> tuple[str, dict[str, str]]:
    """(unsubscribe URL, tool slug -> vote URL) of subscriber `sid` in `issue`."""
    personalizer = Personalizer(issue, vote_slots(issue), settings, Signer(settings.secret()))
    recipient = personalizer.recipient(sid, f"{sid}@example.com", None)
    values = recipient.substitutions
    with session_scope(engine) as session:
        slugs = dict(session.exec(select(Tool.id, Tool.slug)).all())
    votes = {slugs[slot.tool_id]: values[slot.marker] for slot in personalizer.slots}
    return values[placeholders.UNSUBSCRIBE], votes


def sample_links(engine: Engine, settings: Settings, issue: Issue) -> dict[str, str]:
    """The sample subscriber's unsubscribe and vote links, as the preview fills them."""
    with session_scope(engine) as session:
        values = sample_recipient(session, issue, settings).substitutions
    links = (placeholders.VIEW, placeholders.TOKEN)  # not a link / the token alone
    return {marker: url for marker, url in values.items() if marker not in links}


def every_link(engine: Engine, settings: Settings, root: Path) -> Links:
    issue = sent_issue(engine, settings, root, tools_on_site=False)
    reader = subscriber_id(engine, READER)
    newcomer = subscriber_id(engine, NEWCOMER, Status.PENDING)
    leaver = subscriber_id(engine, LEAVER)
    signer = Signer(settings.secret())
    urls = SiteUrls(settings.site_url)
    leaver_token = signer.unsubscribe_token(leaver, issue.id or 0)
    with session_scope(engine) as session:  # the leaver left by this very link
        unsubscribe_by_link(session, signer, leaver_token)
    unsubscribe, votes = personal_links(engine, settings, issue, reader)
    return Links(
        confirm=urls.confirm(signer.confirm_token(newcomer)),
        vote=votes["alpha-tool"],
        other_vote=votes["beta-tool"],
        unsubscribe=unsubscribe,
        resubscribe=urls.resubscribe(leaver_token),
    )


def status_of(engine: Engine, address: str) -> str:
    with session_scope(engine) as session:
        found = find_subscriber(session, address)
        return found.status if found else "gone"


def votes_of(engine: Engine) -> list[tuple[int | None, str]]:
    """(subscriber id, tool slug) of every vote."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(Vote.subscriber_id, Tool.slug).join(Tool, col(Tool.id) == col(Vote.tool_id))
        ).all()
        return [(sid, slug) for sid, slug in rows]


def acted(engine: Engine, kind: str) -> bool:
    """Whether the link of `kind` in `Links` did what its button does."""
    if kind == "confirm":
        return status_of(engine, NEWCOMER) == Status.ACTIVE
    if kind == "vote":
        return [slug for _sid, slug in votes_of(engine)] == ["alpha-tool"]
    if kind == "unsubscribe":
        return status_of(engine, READER) == Status.UNSUBSCRIBED
    if kind == "resubscribe":
        return status_of(engine, LEAVER) == Status.ACTIVE
    raise AssertionError(kind)
