"""`newsletter issue build|render|list|next|approve|unapprove|hold|cancel|check`: an
issue's life before it is sent (the sending commands of the same group live in `send`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from newsletter.cli.console import console, fail, problem
from newsletter.cli.content import listing_problems, present_load
from newsletter.core.clock import utcnow
from newsletter.core.database import get_engine, session_scope
from newsletter.core.settings import get_settings
from newsletter.publishing.files import write_issue_files
from newsletter.publishing.issues import (
    approve_issue,
    build_issue,
    cancelled_for_week,
    get_issue,
    issue_for_week,
    move_issue,
    pick_comparisons,
)
from newsletter.publishing.preview import PreviewFailure, build_preview
from newsletter.publishing.schedule import next_fire
from newsletter.publishing.weeks import parse_week, week_of
from newsletter.publishing.withdrawal import refresh_issue
from newsletter.sending.overview import issue_overview

NumberArgument = Annotated[int, typer.Argument(help="Issue number.")]
WeekOption = Annotated[
    str | None, typer.Option("--week", help="ISO week such as 2026-W48 (default: this week).")
]
ReasonHelp = "Why, for the team."


def issue_build(
    week: WeekOption = None,
    refresh: Annotated[
        bool,
        typer.Option(
            help="Load content/ first, then re-render the week's draft from the files as they "
            "are now (an approved or held issue is frozen: `issue unapprove N` first). A "
            "content problem is reported and nothing changes."
        ),
    ] = False,
) -> None:
    """Create the week's issue and render it (or show it, if it exists).

    Example: [bold]newsletter issue build --week 2026-W48[/]
    """
    settings = get_settings()
    chosen = parse_week(week) if week else week_of(utcnow().date())
    if refresh:
        with listing_problems(), session_scope(immediate=True) as session:
            refreshed = refresh_issue(session, chosen, settings)
        built = refreshed.built
        present_load(settings.content_dir, refreshed.loaded)
    else:
        with session_scope(immediate=True) as session:
            built = build_issue(session, chosen, settings)
    issue = built.issue
    verb = "built" if built.created else ("re-rendered" if refresh else "exists:")
    console.print(f"{verb} issue #{issue.number} for {issue.week} ({issue.status})")
    console.print(f"  subject:   {issue.subject}", markup=False)
    console.print(f"  preheader: {issue.preheader}", markup=False)
    console.print(f"  html: {len(issue.html.encode()):,} bytes, text: {len(issue.text):,} chars")
    console.print(f"  next: newsletter issue render {issue.number}")


def issue_render(
    number: NumberArgument,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write to (default: NEWSLETTER_PREVIEW_DIR)."),
    ] = None,
) -> None:
    """Write issue-N.html, issue-N.txt and issue-N.mjml (the stored snapshot) to a folder.

    Example: [bold]newsletter issue render 1 --out var/preview[/]
    """
    with session_scope() as session:
        issue = get_issue(session, number)
    for kind, path in write_issue_files(issue, out or get_settings().preview_dir).items():
        console.print(f"{kind:5} {path}")


def issue_list(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
) -> None:
    """Issues, newest first: number, week, status, comparisons, sent counts.

    Example: [bold]newsletter issue list[/]
    """
    with session_scope() as session:
        rows = issue_overview(session, limit)
    table = Table("#", "week", "status", "comparisons", "accepted", "unknown", "failed")
    for row in rows:
        table.add_row(
            str(row.number),
            row.week,
            row.status,
            str(row.comparisons),
            str(row.accepted),
            str(row.unknown),
            str(row.failed),
        )
    console.print(table if rows else "no issues yet: newsletter issue build")
    for row in rows:
        if row.status_reason:
            console.print(f"#{row.number}: {row.status_reason}", markup=False)


def issue_next() -> None:
    """What the next scheduled run would pick, and when it fires (in local time).

    Example: [bold]newsletter issue next[/]
    """
    settings = get_settings()
    fire = next_fire(settings, utcnow())
    if fire.fires_at is None:
        fail(f"NEWSLETTER_SCHEDULE '{settings.schedule}' never fires")
    week = week_of(fire.fires_at.date())
    console.print(f"next run: {fire.fires_at:%A %d %B %Y %H:%M %Z} ({fire.zone}), week {week}")
    with session_scope() as session:
        existing = issue_for_week(session, week)
        if existing is not None:
            console.print(f"issue #{existing.number} for {week} exists ({existing.status})")
            return
        cancelled = cancelled_for_week(session, week)
        if cancelled:
            console.print(
                f"{week} was cancelled (issue #{cancelled[-1].number}): that run builds "
                f"nothing; `newsletter issue build --week {week}` builds it again"
            )
            return
        picked = pick_comparisons(session, week, settings.comparisons_per_issue)
    if not picked:
        console.print(f"nothing to pick for {week}: that run will send nothing")
        return
    console.print(f"it would pick {len(picked)} comparison(s):")
    for comparison in picked:
        console.print(f"  {comparison.published}  {comparison.title}", markup=False)
    mode = (
        "approves it (if the checks pass) and sends it at once"
        if settings.auto_send
        else "leaves it for `issue approve`"
    )
    console.print(f"then builds the issue and {mode}")


def _move(number: int, action: str, reason: str | None) -> None:
    """hold, cancel and unapprove differ only in the transition they ask for."""
    with session_scope(immediate=True) as session:
        issue = move_issue(session, number, action, reason)
    console.print(f"issue #{issue.number} ({issue.week}) is {issue.status}")


def issue_approve(number: NumberArgument) -> None:
    """Approve a draft or held issue, as it stands: refused if `issue check` finds an error.
    Its snapshot is frozen from now on, and the scheduler sends it at its next tick.

    Example: [bold]newsletter issue approve 3[/]
    """
    with session_scope(immediate=True) as session:
        issue = approve_issue(session, number, get_settings(), "approved by an editor")
    console.print(f"issue #{issue.number} ({issue.week}) is {issue.status}")


def issue_unapprove(
    number: NumberArgument,
    reason: Annotated[str, typer.Option(help=ReasonHelp)] = "unapproved by an editor",
) -> None:
    """Bring an approved or held issue back to draft, to change it: then
    `issue build --refresh`, `issue check`, and `issue approve` again.

    Example: [bold]newsletter issue unapprove 3[/]
    """
    _move(number, "unapprove", reason)


def issue_hold(
    number: NumberArgument,
    reason: Annotated[str, typer.Option(help=ReasonHelp)] = "held by an editor",
) -> None:
    """Hold an issue: it is not sent until approved.

    Example: [bold]newsletter issue hold 3 --reason "waiting for a vendor reply"[/]
    """
    _move(number, "hold", reason)


def issue_cancel(
    number: NumberArgument,
    reason: Annotated[str, typer.Option(help=ReasonHelp)] = "cancelled by an editor",
) -> None:
    """Cancel an issue before sending starts; its comparisons go back to the pool.

    Example: [bold]newsletter issue cancel 3[/]
    """
    _move(number, "cancel", reason)


def issue_check(
    number: Annotated[
        int | None,
        typer.Argument(
            help="Issue number (default: the newest issue that has not gone out and is not "
            "cancelled, else the week the scheduler sends next, provisionally)."
        ),
    ] = None,
    week: WeekOption = None,
    links: Annotated[
        bool, typer.Option("--links", help="Also check that every link answers (needs a network).")
    ] = False,
) -> None:
    """Check an issue as a subscriber would get it: size, images, links, subject, footer,
    headers, comparison blocks. Exit 1 on any error.

    Example: [bold]newsletter issue check 3[/]
    """
    result = build_preview(get_engine(), get_settings(), week=week, number=number, links=links)
    if isinstance(result, PreviewFailure):
        for line in result.problems:
            problem(line)
        fail("the issue cannot be rendered")
    label = f"issue #{result.number} ({result.week}{', provisional' if result.provisional else ''})"
    for finding in result.findings:
        problem(str(finding))
    if result.errors:
        fail(f"{label}: {len(result.errors)} error(s)")
    warnings = len(result.findings)
    console.print(f"{label}: all checks pass" + (f", {warnings} warning(s)" if warnings else ""))


def register(issue_group: typer.Typer) -> None:
    """Add these commands to the `issue` group, which they share with `send`."""
    for name, command in (
        ("build", issue_build),
        ("render", issue_render),
        ("list", issue_list),
        ("next", issue_next),
        ("approve", issue_approve),
        ("hold", issue_hold),
        ("cancel", issue_cancel),
        ("check", issue_check),
    ):
        issue_group.command(name)(command)
    issue_group.command("unapprove")(issue_unapprove)
