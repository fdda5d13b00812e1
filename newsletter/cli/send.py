"""`newsletter issue send|status|test-send|resend-unknown`: delivering an issue.

Thin: each command parses, calls one function of `newsletter.sending`, and presents the
result. A command that makes a backend closes it when it ends (`with make_backend(...)`),
so what the backend started (the SendGrid build processes) ends with the command.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from newsletter.cli.console import console, fail, problem
from newsletter.core.clock import utcnow
from newsletter.core.database import get_engine, session_scope
from newsletter.core.settings import get_settings
from newsletter.delivery.registry import make_backend
from newsletter.publishing.issues import week_issue
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.preview import default_issue
from newsletter.publishing.weeks import parse_week, week_of
from newsletter.sending import (
    BatchNote,
    BatchState,
    Confirmed,
    LedgerCounts,
    RecipientState,
    SendProgress,
    SendReport,
    issue_status,
    send_decision,
    send_issue,
    test_send,
)
from newsletter.tracking.unknown import (
    reap_abandoned,
    resend_unknown,
    unsettled,
    unsettled_summary,
)

NOTES_SHOWN = 20
UNSETTLED_SHOWN = 5

NumberArgument = Annotated[
    int | None, typer.Argument(help="Issue number (default: the issue of --week, or this week).")
]
WeekOption = Annotated[
    str | None, typer.Option("--week", help="ISO week such as 2026-W48 instead of a number.")
]


def _stdin_is_a_terminal() -> bool:
    return sys.stdin.isatty()


is_terminal: Callable[[], bool] = _stdin_is_a_terminal
"""Whether a person can answer a question; tests set it to drive the question."""


def _resolve(number: int | None, week: str | None, *, upcoming: bool = False) -> int:
    """The issue number the user meant: given, by week, or this week's (or, with
    `upcoming`, the one the preview and `issue check` show by default)."""
    if number is not None:
        return number
    with session_scope(get_engine()) as session:
        if week is None and upcoming:
            return default_issue(session, utcnow().date()).number
        return week_issue(session, parse_week(week) if week else week_of(utcnow().date())).number


class _Bar:
    """A Rich progress bar fed by `send_issue`'s on_progress (called from worker threads;
    Rich's Progress is thread-safe). It appears with the first batch, so a send that has
    nothing to do, or fails at once, prints no empty bar."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.lock = threading.Lock()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.fields[audience]:,}"),
            TextColumn("{task.fields[rate]:,.0f}/s"),
            TextColumn(
                "retried {task.fields[retried]} · failed {task.fields[failed]:,} · "
                "unknown {task.fields[unknown]:,}"
            ),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None

    def __call__(self, p: SendProgress) -> None:
        with self.lock:
            if self.task is None:
                self.progress.start()
                self.task = self.progress.add_task(
                    self.label, total=None, audience=0, rate=0.0, retried=0, failed=0, unknown=0
                )
        self.progress.update(
            self.task,
            total=p.audience,
            audience=p.audience,
            completed=p.settled,
            rate=p.rate,
            retried=p.retried,
            failed=p.failed,
            unknown=p.unknown,
        )

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()


def _notes(title: str, notes: list[BatchNote]) -> None:
    if not notes:
        return
    table = Table("batch", "recipients", "message id", "why", title=title, title_justify="left")
    for note in notes[:NOTES_SHOWN]:
        # SendGrid's words may hold [brackets]: plain Text, never markup.
        table.add_row(
            str(note.seq), f"{note.size:,}", Text(note.message_id or "—"), Text(note.error or "")
        )
    console.print(table)
    if len(notes) > NOTES_SHOWN:
        console.print(f"… and {len(notes) - NOTES_SHOWN} more; see `newsletter issue status`")


def _summary(report: SendReport, how: str) -> None:
    n = report.issue_number
    if report.dry_run:
        console.print(
            f"dry run of issue #{n}: {report.sent_now:,} of {report.audience:,} recipients "
            f"{how} in {report.elapsed:.1f} s; nothing was delivered or recorded",
            soft_wrap=True,
        )
        for line in report.errors:
            problem(line)
        if report.failed:
            fail(f"{report.failed:,} recipient(s) in batches the provider refused")
        return
    if report.outcome == "already sent":
        console.print(f"issue #{n} was already sent ({report.status}); nothing to do")
    console.print(
        f"issue #{n}: {report.status} — {report.accepted:,} accepted, {report.skipped:,} "
        f"skipped, {report.failed:,} failed, {report.unknown:,} unknown, {report.queued:,} "
        f"to send, of {report.audience:,}",
        soft_wrap=True,
    )
    if report.outcome != "already sent":
        console.print(
            f"this run ({report.outcome}): {report.sent_now:,} accepted in "
            f"{report.elapsed:.1f} s ({report.rate:,.0f}/s), {report.retried} batch retries",
            soft_wrap=True,
        )
    _notes(
        "unknown batches (may or may not have been accepted; never re-sent by `issue send`)",
        report.unknown_batches,
    )
    _notes("failed batches", report.failed_batches)
    if report.status == IssueStatus.PAUSED:
        fail(report.status_reason or f"issue #{n} is paused")
    if report.status_reason:
        console.print(report.status_reason, markup=False, soft_wrap=True)
    if report.failed or report.unknown:
        fail(
            f"issue #{n} did not reach everyone: {report.failed:,} recipient(s) failed, "
            f"{report.unknown:,} unknown (may or may not have been delivered; never re-sent "
            f"by `issue send`); see `newsletter issue status {n}`"
        )


def _decide(number: int) -> Confirmed:
    """Sending a draft nobody approved is the editor's explicit decision: asked on a
    terminal (with the subject and how many it goes to), refused without one. Returns what
    the decision was made on; the send starts only if the issue is still that."""
    with session_scope(get_engine()) as session:
        decision = send_decision(session, number)
    if not decision.unapproved:
        return decision.confirmed
    if not is_terminal():
        fail(
            f"issue #{number} is a {decision.status} nobody approved; approve it "
            f"(`newsletter issue approve {number}`) or pass --yes to send it as it is"
        )
    console.print(
        f"issue #{number} ({decision.week}) is a {decision.status} nobody approved.\n"
        f"  subject: {decision.subject}\n"
        f"  to:      {decision.audience:,} active subscriber(s)",
        markup=False,
    )
    if not typer.confirm("Send it now?", default=False):
        fail(f"issue #{number} was not sent")
    return decision.confirmed


def issue_send(
    number: NumberArgument = None,
    week: WeekOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Validate every batch (the provider's sandbox mode); deliver nothing."
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Send a draft nobody approved without asking (needed off a terminal).",
        ),
    ] = False,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach",
            help="Start the send (snapshot the audience) and return: `newsletter worker` "
            "processes send it.",
        ),
    ] = False,
) -> None:
    """Send an issue to every active subscriber, or resume its interrupted send.

    A draft nobody approved is sent only after a yes (asked on a terminal, or --yes); a
    held issue is refused, and so is one that changed while the question waited. Exits 1
    when recipients ended failed or unknown.
    Safe to run again, or on two machines at once: nobody gets the issue twice.
    With --detach it stops once the send has started (or a paused one resumed) and leaves
    the sending to the workers.
    Example: [bold]newsletter issue send --week 2026-W48[/]
    """
    if detach and dry_run:
        fail("--detach and --dry-run: a dry run sends nothing for workers to take over")
    settings = get_settings()
    chosen = _resolve(number, week)
    expected = None if dry_run or yes else _decide(chosen)
    if detach:
        with make_backend(settings) as backend:  # checks the message as a send would
            report = send_issue(
                get_engine(), chosen, settings, backend, expected=expected, detach=True
            )
        _detached(report)
        return
    bar = _Bar(f"issue #{chosen}" + (" (dry run)" if dry_run else ""))
    with make_backend(settings) as backend:
        try:
            report = send_issue(
                get_engine(),
                chosen,
                settings,
                backend,
                dry_run=dry_run,
                on_progress=bar,
                expected=expected,
            )
        finally:
            bar.close()
    how = (
        f"validated by {backend.name} in sandbox mode"
        if backend.supports_sandbox
        else f"built (the {backend.name} backend has no sandbox)"
    )
    _summary(report, how)


def _detached(report: SendReport) -> None:
    """What a detached send left for the workers."""
    n = report.issue_number
    if report.outcome == "already sent":
        console.print(f"issue #{n} was already sent ({report.status}); nothing to do")
        return
    console.print(
        f"issue #{n}: {report.status} ({report.outcome}) — {report.queued:,} of "
        f"{report.audience:,} recipients to send; `newsletter worker` processes send it "
        f"(`newsletter issue status {n}` follows it)",
        soft_wrap=True,
    )


def _counts_table(counts: LedgerCounts) -> Table:
    table = Table("state", "batches", "recipients", title=f"issue #{counts.issue_number}")
    for state in (BatchState.ACCEPTED, BatchState.FAILED, BatchState.UNKNOWN, BatchState.SKIPPED):
        recipients = counts.recipient_count(RecipientState(state.value))
        table.add_row(state.value, f"{counts.batch_count(state):,}", f"{recipients:,}")
    for state in (BatchState.PENDING, BatchState.RETRYABLE, BatchState.IN_FLIGHT):
        table.add_row(state.value, f"{counts.batch_count(state):,}", "")
    queued = counts.recipient_count(RecipientState.QUEUED)
    table.add_row("queued (to send)", "", f"{queued:,}")
    table.add_row("audience", f"{sum(counts.batches.values()):,}", f"{counts.audience:,}")
    return table


def issue_status_command(
    number: Annotated[int, typer.Argument(help="Issue number.")],
) -> None:
    """Show an issue's delivery: batches and recipients by state, unknown and failed batches.

    Example: [bold]newsletter issue status 3[/]
    """
    with session_scope(get_engine()) as session:
        counts = issue_status(session, number)
    console.print(f"issue #{number}: {counts.status}")
    if counts.status_reason:
        console.print(f"  {counts.status_reason}", markup=False, soft_wrap=True)
    if not counts.started:
        console.print("  not sent yet: no delivery ledger")
        return
    when = f"  started {counts.started_at:%Y-%m-%d %H:%M:%S} UTC"
    if counts.finished_at:
        when += f", finished {counts.finished_at:%Y-%m-%d %H:%M:%S} UTC"
    console.print(when + f", batches of {counts.batch_size}", soft_wrap=True)
    console.print(_counts_table(counts))
    _notes(
        "unknown batches (may or may not have been accepted; never re-sent by `issue send`)",
        counts.unknown_batches,
    )
    _notes("failed batches", counts.failed_batches)
    _notes("batches waiting for a retry", counts.retryable_batches)
    if counts.unknown:
        _unsettled(number)


def _waited(after: timedelta) -> str:
    """A duration as an operator reads it: "2 h 00 min", "45 min"."""
    minutes = int(after.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _unsettled(number: int) -> None:
    """The unknown recipients no event has settled in NEWSLETTER_SETTLE_AFTER, and what to do."""
    settle_after = get_settings().settle_after
    with session_scope(get_engine()) as session:
        summary = unsettled_summary(
            session, number, settle_after=settle_after, now=utcnow(), shown=UNSETTLED_SHOWN
        )
    if not summary.count:
        return
    more = (
        f", … ({summary.count - len(summary.first):,} more)"
        if summary.count > len(summary.first)
        else ""
    )
    console.print(
        f"{summary.count:,} unknown recipient(s) with no event from the provider after "
        f"{_waited(settle_after)}: {', '.join(summary.first)}{more}\n"
        f"  they most likely never got it; `newsletter issue resend-unknown {number}` sends it "
        "to them again (the only command that can send someone an issue twice)",
        markup=False,
        soft_wrap=True,
    )


def issue_test_send(
    email: Annotated[str, typer.Argument(help="Where to send the test.")],
    number: Annotated[
        int | None,
        typer.Argument(
            help="Issue number (default: the issue `issue check` checks: the newest one that "
            "has not gone out and is not cancelled)."
        ),
    ] = None,
) -> None:
    """Send the rendered issue to one address, marked as a test; the ledger is untouched.

    Example: [bold]newsletter issue test-send editor@example.com 3[/]
    """
    settings = get_settings()
    chosen = _resolve(number, None, upcoming=True)
    with make_backend(settings) as backend, session_scope(get_engine()) as session:
        message_id = test_send(session, chosen, email, settings, backend)
    console.print(
        f"test of issue #{chosen} sent to {email} through {backend.name}"
        + (f" (message id {message_id})" if message_id else ""),
        markup=False,
        soft_wrap=True,
    )


def issue_resend_unknown(
    number: Annotated[int, typer.Argument(help="Issue number.")],
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Re-send without asking (needed off a terminal)."),
    ] = False,
) -> None:
    """Send an issue again to its unknown recipients that no provider event has settled.

    These recipients' batch may have reached the provider without an answer saying so: some
    may have the issue already. This is the only command that can send someone an issue
    twice, so it asks first (on a terminal; --yes otherwise). Exits 1 when some re-sends
    failed or are unknown again.
    Example: [bold]newsletter issue resend-unknown 3[/]
    """
    settings = get_settings()
    engine = get_engine()
    reap_abandoned(engine, number)  # a re-send killed earlier: its batch is unknown again
    with session_scope(engine) as session:
        found = unsettled(session, number, settle_after=settings.settle_after, now=utcnow())
    if not found:
        console.print(
            f"issue #{number}: no unknown recipient is left without a provider event after "
            f"{_waited(settings.settle_after)}; nothing to send",
            soft_wrap=True,
        )
        return
    shown = ", ".join(u.email for u in found[:UNSETTLED_SHOWN])
    if len(found) > UNSETTLED_SHOWN:
        shown += f", … ({len(found) - UNSETTLED_SHOWN:,} more)"
    console.print(
        "This is the only command that can send someone an issue twice: the provider may have "
        "delivered their first copy without saying so.\n"
        f"issue #{number}: {len(found):,} unknown recipient(s), no event heard in "
        f"{_waited(settings.settle_after)}: {shown}",
        markup=False,
        soft_wrap=True,
    )
    if not yes:
        if not is_terminal():
            fail(f"issue #{number} was not re-sent: pass --yes to re-send without a terminal")
        if not typer.confirm(f"Send issue #{number} again to them?", default=False):
            fail(f"issue #{number} was not re-sent")
    with make_backend(settings) as backend:
        report = resend_unknown(
            engine, number, settings, backend, subscribers=[u.subscriber_id for u in found]
        )
    settled = report.chosen - report.marked
    console.print(
        f"issue #{number} re-sent: {report.accepted:,} accepted, {report.failed:,} failed, "
        f"{report.unknown:,} unknown, {report.skipped:,} skipped (left the list)"
        + (f"; {settled:,} settled meanwhile, not re-sent" if settled else ""),
        soft_wrap=True,
    )
    console.print(f"issue #{number}: {report.status}")
    if report.status_reason:
        console.print(f"  {report.status_reason}", markup=False, soft_wrap=True)
    for line in report.errors:
        problem(line)
    if report.failed or report.unknown:
        fail(
            f"issue #{number}: {report.failed:,} re-send(s) failed, {report.unknown:,} unknown; "
            f"see `newsletter issue status {number}`"
        )


def register(issue_group: typer.Typer) -> None:
    """Add the sending commands to the `issue` group, which they share with `issues`."""
    issue_group.command("send")(issue_send)
    issue_group.command("status")(issue_status_command)
    issue_group.command("test-send")(issue_test_send)
    issue_group.command("resend-unknown")(issue_resend_unknown)
