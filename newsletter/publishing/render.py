"""Rendering an issue: Jinja2 (autoescaped, .mjml included) into MJML, mjml-python into HTML,
and a separate plain-text template. The result is a frozen snapshot stored on the issue."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Final

import mjml
from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    FunctionLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from newsletter.core.errors import InvalidInput
from newsletter.core.settings import Settings
from newsletter.delivery import placeholders
from newsletter.links.urls import SiteUrls
from newsletter.publishing.figures import (
    community_percent,
    community_shares,
    percent,
    rank,
    reviewer_split,
    ship_share,
)
from newsletter.publishing.inbox import preheader_line, subject_line
from newsletter.publishing.lifecycle import PUBLISHED
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

EMAIL_TEMPLATES: Final = "email"
"""The folder under NEWSLETTER_TEMPLATES_DIR that holds the email templates."""


log = logging.getLogger(__name__)


class RenderError(InvalidInput):
    """A template or the MJML compiler failed; the message says where."""


@dataclass(frozen=True)
class TakeView:
    reviewer: str
    lens: str
    verdict: str
    take: str
    reviewer_slug: str = ""

    @property
    def key(self) -> str:
        """Who wrote the take, as the panel tells reviewers apart: by slug, since two
        reviewers may share a name (the name stands in only for a view built by hand)."""
        return self.reviewer_slug or self.reviewer


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
    favoured_by: list[str]  # the `TakeView.key` of each reviewer who favours this tool
    takes: list[TakeView]
    vote_url: str
    id: int = 0  # the tool's row: what the votes count against


@dataclass(frozen=True)
class PanelTake:
    """One reviewer's verdict on one tool of the comparison, and why. `place` is the tool's
    place in the comparison: two tools may share a display name, never a place."""

    tool: str
    verdict: str
    take: str
    place: int = 0


@dataclass(frozen=True)
class PanelistView:
    """One reviewer, once per comparison: a verdict on every tool, the tool they favour
    (ranked strictly above all others) if any, and the one take the email quotes.
    `favours` is the favourite's name, to show; `favourite` its place, to match on."""

    name: str
    lens: str
    takes: list[PanelTake]
    favours: str | None
    favourite: int | None = None

    @property
    def quote(self) -> PanelTake | None:
        """The take on the favoured tool; without a favourite, on the first tool the
        reviewer rates best. So the quote always agrees with the line it sits under."""
        if not self.takes:
            return None
        favoured = [t for t in self.takes if t.place == self.favourite]
        return favoured[0] if favoured else max(self.takes, key=lambda t: rank(t.verdict))


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
    id: int = 0  # the comparison's row: what the votes count against

    @property
    def panel(self) -> list[PanelistView]:
        """The reviewer split, by reviewer in review order: each reviewer appears once,
        whatever the number of tools, so no line can say "nobody favours it" next to a
        quote that does. Reviewers are told apart by slug and tools by their place, never
        by name: two reviewers or two tools of one name stay two."""
        first: dict[str, TakeView] = {}
        takes: dict[str, list[PanelTake]] = {}
        favourite: dict[str, int] = {}
        for place, tool in enumerate(self.tools):
            for take in tool.takes:
                first.setdefault(take.key, take)
                takes.setdefault(take.key, []).append(
                    PanelTake(tool.name, take.verdict, take.take, place)
                )
            for reviewer in tool.favoured_by:
                favourite[reviewer] = place
        return [
            PanelistView(
                first[key].reviewer,
                first[key].lens,
                takes[key],
                self.tools[favourite[key]].name if key in favourite else None,
                favourite.get(key),
            )
            for key in takes
        ]

    def with_votes(self, tally: Mapping[int, int]) -> ComparisonView:
        """This comparison with the community figures of `tally` (tool id -> votes): the
        one figure of a comparison that moves after it went out."""
        shares = community_shares(
            {str(k): v for k, v in tally.items()}, [str(t.id) for t in self.tools]
        )
        return replace(
            self,
            votes=sum(tally.get(t.id, 0) for t in self.tools),
            tools=[
                replace(t, community_share=community_percent(shares[str(t.id)])) for t in self.tools
            ],
        )


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
    """Autoescape .mjml and .html (select_autoescape's defaults miss .mjml); text stays raw.
    Its templates are read from the folder, each compiled again when its file's time
    changes (Jinja's own check); `email_templates` is the one a render of an issue uses."""
    return _environment(FileSystemLoader(templates_dir))


def _environment(loader: BaseLoader) -> Environment:
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(enabled_extensions=("html", "mjml", "xml")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["percent"] = percent
    env.filters["longdate"] = long_date
    return env


class _Folder:
    """A template folder as last read: its files' bytes, their digest, and the environment
    that compiles templates from exactly those bytes (and keeps them compiled)."""

    def __init__(self, folder: Path, files: dict[str, bytes], digest: str) -> None:
        self.folder = folder
        self.files = files
        self.digest = digest
        self.env = _environment(FunctionLoader(self._source))

    def _source(self, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        data = self.files.get(name)
        if data is None:
            return None
        return data.decode("utf-8"), str(self.folder / name), _always

    @classmethod
    def read(cls, folder: Path) -> tuple[dict[str, bytes], str]:
        """Every file under `folder` (by its path relative to it, as Jinja names templates)
        and a digest of names and contents."""
        files: dict[str, bytes] = {}
        digest = hashlib.sha256()
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                files[name] = data = path.read_bytes()
                digest.update(f"{name}\0{len(data)}\0".encode())
                digest.update(data)
        return files, digest.hexdigest()


def _always() -> bool:
    return True


_FOLDERS_KEPT: Final = 8
_MJML_KEPT: Final = 16
_folders: OrderedDict[Path, _Folder] = OrderedDict()
_compiled: OrderedDict[str, str] = OrderedDict()  # sha256 of the MJML -> its HTML
_cache_lock = threading.Lock()


def email_templates(folder: Path) -> Environment:
    """The environment for the templates in `folder`, kept between renders: building one and
    compiling its templates was most of a render (about 15 ms of 20), paid again on every
    preview reload. The folder's files are read on every call (five small files: tens of
    microseconds) and compared by content, not by time: an edit shows at the next render
    even when it lands within the file system's timestamp granularity, and the templates
    compiled are always the bytes compared (the environment loads from what was read, not
    from the disk again)."""
    folder = folder.absolute()
    files, digest = _Folder.read(folder)
    with _cache_lock:
        kept = _folders.get(folder)
        if kept is not None and kept.digest == digest:
            _folders.move_to_end(folder)
            return kept.env
        kept = _folders[folder] = _Folder(folder, files, digest)
        _folders.move_to_end(folder)
        while len(_folders) > _FOLDERS_KEPT:
            _folders.popitem(last=False)
        return kept.env


def long_date(day: date) -> str:
    """'23 November 2026': the email's and the site's way of writing a date."""
    return f"{day.day} {day:%B %Y}"


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
    tools_of = _tools_by_comparison(session, ids)
    takes_of, verdicts_of = _takes_by_comparison(session, ids)
    votes = count_votes(session, ids)
    urls = SiteUrls(settings.site_url)

    views = []
    for position, comparison in enumerate(comparisons, start=1):
        cid = comparison.id
        assert cid is not None
        tools = tools_of[cid]
        tool_keys = [str(t.id) for t in tools]
        split = reviewer_split(verdicts_of[cid], tool_keys)  # reviewers by slug, tools by id
        name_of = {t.key: t.reviewer for by_tool in takes_of[cid].values() for t in by_tool}
        view = ComparisonView(
            id=cid,
            position=position,
            slug=comparison.slug,
            title=comparison.title,
            question=comparison.question,
            published=comparison.published,
            verdict=comparison.verdict,
            url=urls.comparison(comparison.slug),
            undecided=[name_of[key] for key in split.undecided],
            votes=0,
            tools=[
                ToolView(
                    id=tool.id or 0,
                    slug=tool.slug,
                    name=tool.name,
                    vendor=tool.vendor,
                    category=tool.category,
                    tagline=tool.tagline,
                    description=tool.description,
                    pricing_entry=tool.pricing_entry,
                    pricing_note=tool.pricing_note,
                    url=tool.url,
                    ship_share=percent(ship_share(t.verdict for t in takes_of[cid][tool.id or 0])),
                    community_share=community_percent(None),
                    favoured_by=split.favour[key],
                    takes=takes_of[cid][tool.id or 0],
                    vote_url=(placeholders.vote(cid, tool.id or 0) if with_vote_links else ""),
                )
                for tool, key in zip(tools, tool_keys, strict=True)
            ],
        )
        views.append(view.with_votes(votes.get(cid, {})))
    return views


def _tools_by_comparison(session: Session, ids: Sequence[int]) -> dict[int, list[Tool]]:
    """comparison id -> its tools, in the order the editor listed them."""
    links = session.exec(
        select(ComparisonTool, Tool)
        .join(Tool, col(Tool.id) == ComparisonTool.tool_id)
        .where(col(ComparisonTool.comparison_id).in_(ids))
        .order_by(col(ComparisonTool.comparison_id), col(ComparisonTool.position))
    ).all()
    tools_of: dict[int, list[Tool]] = defaultdict(list)
    for link, tool in links:
        tools_of[link.comparison_id].append(tool)
    return tools_of


Takes = dict[int, dict[int, list[TakeView]]]
"""comparison id -> tool id -> the panel's takes, in review order."""
Verdicts = dict[int, dict[str, dict[str, str]]]
"""comparison id -> reviewer slug -> tool key -> verdict, what `reviewer_split` reads."""


def _takes_by_comparison(session: Session, ids: Sequence[int]) -> tuple[Takes, Verdicts]:
    reviews = session.exec(
        select(Review, Reviewer)
        .join(Reviewer, col(Reviewer.id) == Review.reviewer_id)
        .where(col(Review.comparison_id).in_(ids))
        .order_by(col(Review.comparison_id), col(Review.position))
    ).all()
    takes_of: Takes = defaultdict(lambda: defaultdict(list))
    verdicts_of: Verdicts = defaultdict(lambda: defaultdict(dict))
    for review, reviewer in reviews:
        takes_of[review.comparison_id][review.tool_id].append(
            TakeView(
                reviewer.name,
                LENS_LABELS.get(reviewer.lens, reviewer.lens),
                review.verdict,
                review.take,
                reviewer.slug,
            )
        )
        verdicts_of[review.comparison_id][reviewer.slug][str(review.tool_id)] = review.verdict
    return takes_of, verdicts_of


def render_view(view: IssueView, templates_dir: Path) -> Snapshot:
    """Both parts from one view. A template mistake becomes a RenderError naming the file
    and line, so the preview can show it to the editor instead of failing."""
    env = email_templates(templates_dir / EMAIL_TEMPLATES)
    try:
        source = env.get_template("issue.mjml").render(issue=view)
        text = env.get_template("issue.txt").render(issue=view)
    except TemplateSyntaxError as exc:
        where = Path(exc.filename or exc.name or "template").name
        raise RenderError(
            f"templates/{EMAIL_TEMPLATES}/{where}:{exc.lineno}: {exc.message}"
        ) from exc
    except TemplateError as exc:
        raise RenderError(f"templates/{EMAIL_TEMPLATES}: {exc}") from exc
    return Snapshot(view.subject, view.preheader, source, _compile_kept(source), text)


def _compile_kept(source: str) -> str:
    """`compile_mjml`, its answer kept for the last few sources (by their SHA-256): a preview
    reload with nothing changed renders the same MJML again."""
    key = hashlib.sha256(source.encode()).hexdigest()
    with _cache_lock:
        html = _compiled.get(key)
        if html is not None:
            _compiled.move_to_end(key)
            return html
    html = compile_mjml(source)
    with _cache_lock:
        _compiled[key] = html
        while len(_compiled) > _MJML_KEPT:
            _compiled.popitem(last=False)
    return html


def compile_mjml(source: str) -> str:
    """MJML to email-safe HTML (tables, inlined styles); shared with the confirmation email."""
    try:
        return str(mjml.mjml2html(source))
    except ValueError as exc:
        raise RenderError(f"MJML did not compile: {exc}") from exc


def issue_view(
    session: Session, issue: Issue, settings: Settings, count_votes: VoteCounter = count_votes
) -> IssueView:
    """What the templates see for `issue`: its comparisons and, to close the loop with
    readers, the community results of the comparisons that got votes in the last issue
    that went out for an earlier week."""
    views = comparison_views(session, _comparisons_in(session, issue), settings, count_votes)
    # The last one readers got (not a cancelled one), by week: a week cancelled and built
    # again takes a new number, higher than those of the weeks after it.
    previous_issue = session.exec(
        select(Issue)
        .where(Issue.week < issue.week)
        .where(col(Issue.status).in_([status.value for status in PUBLISHED]))
        .order_by(col(Issue.week).desc(), col(Issue.number).desc())
    ).first()
    previous: list[ComparisonView] = []
    if previous_issue is not None:
        earlier = _comparisons_in(session, previous_issue)
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


def _comparisons_in(session: Session, issue: Issue) -> list[Comparison]:
    """The issue's comparisons in their order in the email."""
    return list(
        session.exec(
            select(Comparison)
            .join(IssueComparison, col(IssueComparison.comparison_id) == Comparison.id)
            .where(IssueComparison.issue_id == issue.id)
            .order_by(col(IssueComparison.position))
        )
    )


def render_issue(
    session: Session, issue: Issue, settings: Settings, count_votes: VoteCounter = count_votes
) -> Snapshot:
    """Render and store the snapshot on the issue (the caller commits), and with it the
    view it was rendered from: the web version is built from that view, so it shows what
    went out, not what the content files say today."""
    view = issue_view(session, issue, settings, count_votes)
    snapshot = render_view(view, settings.templates_dir)
    issue.subject = snapshot.subject
    issue.preheader = snapshot.preheader
    issue.mjml = snapshot.mjml
    issue.html = snapshot.html
    issue.text = snapshot.text
    issue.content_hash = snapshot.content_hash
    issue.page = page_json(view)
    issue.rendered_at = utcnow()
    session.add(issue)
    return snapshot


_PAGE: Final = TypeAdapter(IssueView)


def page_json(view: IssueView) -> str:
    """`view` as the JSON stored in `issue.page`."""
    return _PAGE.dump_json(view).decode()


def stored_page(issue: Issue) -> IssueView | None:
    """The view `issue` was last rendered from; None for an issue rendered before views
    were kept (migration 0007), or one whose stored view no longer reads as a view: the
    caller then builds the page from the live tables, as before."""
    if not issue.page:
        return None
    try:
        return _PAGE.validate_json(issue.page)
    except ValidationError as exc:
        log.warning("issue #%s: its stored page does not read (%s)", issue.number, exc)
        return None
