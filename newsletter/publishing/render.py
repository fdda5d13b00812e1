"""Rendering an issue: Jinja2 (autoescaped, .mjml included) into MJML, mjml-python into HTML,
and a separate plain-text template. The result is a frozen snapshot stored on the issue."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import mjml
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from newsletter.core.errors import InvalidInput
from newsletter.core.settings import Settings
from newsletter.delivery import placeholders
from newsletter.publishing.figures import community_shares, percent, reviewer_split, ship_share
from newsletter.publishing.models import (
    LENS_LABELS,
    Comparison,
    ComparisonTool,
    Issue,
    IssueComparison,
    Review,
    Reviewer,
    Tool,
)
from newsletter.publishing.votes import count_votes
from newsletter.publishing.weeks import week_bounds

SUBJECT_MAX = 80
PREHEADER_MAX = 140


class RenderError(InvalidInput):
    """A template or the MJML compiler failed; the message says where."""


@dataclass(frozen=True)
class TakeView:
    reviewer: str
    lens: str
    verdict: str
    take: str


@dataclass(frozen=True)
class ToolView:
    slug: str
    name: str
    vendor: str
    category: str
    tagline: str
    description: str
    pricing_entry: str
    pricing_note: str | None
    url: str
    ship_share: str
    community_share: str
    favoured_by: list[str]
    takes: list[TakeView]
    vote_url: str

    @property
    def lead_take(self) -> TakeView | None:
        """The one take the email shows: from a reviewer who favours the tool, else from one
        who ships it, else the first."""
        for choice in (
            [t for t in self.takes if t.reviewer in self.favoured_by],
            [t for t in self.takes if t.verdict == "ship"],
            self.takes,
        ):
            if choice:
                return choice[0]
        return None


@dataclass(frozen=True)
class ComparisonView:
    position: int
    slug: str
    title: str
    question: str
    published: date
    verdict: str
    url: str
    tools: list[ToolView]
    undecided: list[str]
    votes: int


@dataclass(frozen=True)
class IssueView:
    number: int
    week: str
    date: date
    subject: str
    preheader: str
    comparisons: list[ComparisonView]
    previous: list[ComparisonView] = field(default_factory=list)
    previous_number: int | None = None
    site_url: str = ""
    from_name: str = ""
    postal_address: str = ""
    unsubscribe_url: str = placeholders.UNSUBSCRIBE
    view_url: str = placeholders.VIEW


@dataclass(frozen=True)
class Snapshot:
    subject: str
    preheader: str
    mjml: str
    html: str
    text: str

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for part in (self.subject, self.preheader, self.html, self.text):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()


VoteCounter = Callable[[Session, Sequence[int]], Mapping[int, Mapping[int, int]]]
"""(session, comparison ids) -> comparison id -> tool id -> votes."""


def environment(templates_dir: Path) -> Environment:
    """Autoescape .mjml and .html (select_autoescape's defaults miss .mjml); text stays raw."""
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(enabled_extensions=("html", "mjml", "xml")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["percent"] = percent
    env.filters["longdate"] = lambda d: f"{d.day} {d:%B %Y}"
    return env


def comparison_views(
    session: Session,
    comparisons: Sequence[Comparison],
    settings: Settings,
    count_votes: VoteCounter = count_votes,
    *,
    with_vote_links: bool = True,
) -> list[ComparisonView]:
    """Everything the templates show about these comparisons, in the given order."""
    ids = [c.id for c in comparisons if c.id is not None]
    links = session.exec(
        select(ComparisonTool, Tool)
        .join(Tool, col(Tool.id) == ComparisonTool.tool_id)
        .where(col(ComparisonTool.comparison_id).in_(ids))
        .order_by(col(ComparisonTool.comparison_id), col(ComparisonTool.position))
    ).all()
    tools_of: dict[int, list[Tool]] = defaultdict(list)
    for link, tool in links:
        tools_of[link.comparison_id].append(tool)
    reviews = session.exec(
        select(Review, Reviewer)
        .join(Reviewer, col(Reviewer.id) == Review.reviewer_id)
        .where(col(Review.comparison_id).in_(ids))
        .order_by(col(Review.comparison_id), col(Review.position))
    ).all()
    takes_of: dict[int, dict[int, list[TakeView]]] = defaultdict(lambda: defaultdict(list))
    verdicts_of: dict[int, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for review, reviewer in reviews:
        takes_of[review.comparison_id][review.tool_id].append(
            TakeView(
                reviewer.name,
                LENS_LABELS.get(reviewer.lens, reviewer.lens),
                review.verdict,
                review.take,
            )
        )
        verdicts_of[review.comparison_id][reviewer.name][str(review.tool_id)] = review.verdict
    votes = count_votes(session, ids)

    views = []
    for position, comparison in enumerate(comparisons, start=1):
        cid = comparison.id
        assert cid is not None
        tools = tools_of[cid]
        tool_keys = [str(t.id) for t in tools]
        split = reviewer_split(verdicts_of[cid], tool_keys)
        tally = {str(k): v for k, v in votes.get(cid, {}).items()}
        shares = community_shares(tally, tool_keys)
        views.append(
            ComparisonView(
                position=position,
                slug=comparison.slug,
                title=comparison.title,
                question=comparison.question,
                published=comparison.published,
                verdict=comparison.verdict,
                url=f"{settings.site_url}/comparisons/{comparison.slug}",
                undecided=split.undecided,
                votes=sum(tally.values()),
                tools=[
                    ToolView(
                        slug=tool.slug,
                        name=tool.name,
                        vendor=tool.vendor,
                        category=tool.category,
                        tagline=tool.tagline,
                        description=tool.description,
                        pricing_entry=tool.pricing_entry,
                        pricing_note=tool.pricing_note,
                        url=tool.url,
                        ship_share=percent(
                            ship_share(t.verdict for t in takes_of[cid][tool.id or 0])
                        ),
                        community_share=percent(shares[key]),
                        favoured_by=split.favour[key],
                        takes=takes_of[cid][tool.id or 0],
                        vote_url=(placeholders.vote(cid, tool.id or 0) if with_vote_links else ""),
                    )
                    for tool, key in zip(tools, tool_keys, strict=True)
                ],
            )
        )
    return views


def subject_line(number: int, comparisons: Sequence[ComparisonView]) -> str:
    """'Verdicts #12: A vs B (+2 more)', cut with an ellipsis to fit an inbox line."""
    more = f" (+{len(comparisons) - 1} more)" if len(comparisons) > 1 else ""
    head = f"Verdicts #{number}: "
    title = comparisons[0].title if comparisons else "this week's comparisons"
    room = SUBJECT_MAX - len(head) - len(more)
    if len(title) > room:
        title = title[: room - 1].rstrip() + "…"
    return f"{head}{title}{more}"


def preheader_line(comparisons: Sequence[ComparisonView]) -> str:
    text = comparisons[0].verdict if comparisons else ""
    if len(comparisons) > 1:
        text += " Also: " + "; ".join(c.title for c in comparisons[1:]) + "."
    return text if len(text) <= PREHEADER_MAX else text[: PREHEADER_MAX - 1].rstrip() + "…"


def render_view(view: IssueView, templates_dir: Path) -> Snapshot:
    env = environment(templates_dir / "email")
    try:
        source = env.get_template("issue.mjml").render(issue=view)
        text = env.get_template("issue.txt").render(issue=view)
    except TemplateSyntaxError as exc:
        where = Path(exc.filename or exc.name or "template").name
        raise RenderError(f"templates/email/{where}:{exc.lineno}: {exc.message}") from exc
    except TemplateError as exc:
        raise RenderError(f"templates/email: {exc}") from exc
    return Snapshot(view.subject, view.preheader, source, compile_mjml(source), text)


def compile_mjml(source: str) -> str:
    try:
        return str(mjml.mjml2html(source))
    except ValueError as exc:
        raise RenderError(f"MJML did not compile: {exc}") from exc


def issue_view(
    session: Session, issue: Issue, settings: Settings, count_votes: VoteCounter = count_votes
) -> IssueView:
    comparisons = list(
        session.exec(
            select(Comparison)
            .join(IssueComparison, col(IssueComparison.comparison_id) == Comparison.id)
            .where(IssueComparison.issue_id == issue.id)
            .order_by(col(IssueComparison.position))
        )
    )
    views = comparison_views(session, comparisons, settings, count_votes)
    previous_issue = session.exec(
        select(Issue).where(Issue.number < issue.number).order_by(col(Issue.number).desc())
    ).first()
    previous: list[ComparisonView] = []
    if previous_issue is not None:
        earlier = list(
            session.exec(
                select(Comparison)
                .join(IssueComparison, col(IssueComparison.comparison_id) == Comparison.id)
                .where(IssueComparison.issue_id == previous_issue.id)
                .order_by(col(IssueComparison.position))
            )
        )
        previous = [
            v
            for v in comparison_views(
                session, earlier, settings, count_votes, with_vote_links=False
            )
            if v.votes
        ]
    return IssueView(
        number=issue.number,
        week=issue.week,
        date=week_bounds(issue.week)[0],
        subject=subject_line(issue.number, views),
        preheader=preheader_line(views),
        comparisons=views,
        previous=previous,
        previous_number=previous_issue.number if previous_issue else None,
        site_url=settings.site_url,
        from_name=settings.from_name,
        postal_address=settings.postal_address,
    )


def render_issue(
    session: Session, issue: Issue, settings: Settings, count_votes: VoteCounter = count_votes
) -> Snapshot:
    """Render and store the snapshot on the issue (the caller commits)."""
    snapshot = render_view(
        issue_view(session, issue, settings, count_votes), settings.templates_dir
    )
    issue.subject = snapshot.subject
    issue.preheader = snapshot.preheader
    issue.mjml = snapshot.mjml
    issue.html = snapshot.html
    issue.text = snapshot.text
    issue.content_hash = snapshot.content_hash
    issue.rendered_at = utcnow()
    session.add(issue)
    return snapshot
