"""`newsletter subscribers …`: the operators' commands for the list.

Thin, like the rest of the CLI: parse, call one function of `subscribers` (the web app calls
the same ones), present the result. Known failures are `NewsletterError`s of one kind each,
which the root command (`main`) turns into one `error: …` line and an exit status; the
helpers below only shape tables and files.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from newsletter.cli.console import console, errors, fail, plain, problem
from newsletter.core.database import get_engine, session_scope
from newsletter.core.settings import get_settings
from newsletter.delivery.registry import make_backend
from newsletter.sending.confirm import CONFIRM_VALID_DAYS
from newsletter.sending.reconfirm import send_pending_confirmations
from subscribers.addresses import InvalidAddress
from subscribers.consent import record_consent
from subscribers.errors import SubscriberNotFound
from subscribers.export import export_csv
from subscribers.importer import check_utf8, import_csv
from subscribers.models import SUPPRESSED, Source, Status, StatusChange, Subscriber
from subscribers.service import (
    add_subscriber,
    count_subscribers,
    find_subscriber,
    forget,
    is_forgotten,
    list_stats,
    list_subscribers,
    lookup_key,
    set_status,
    status_history,
    unsubscribe,
)

app = typer.Typer(
    help="The subscriber list: add, import, confirm, export, search, forget.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

PROGRESS_FROM_BYTES = 256 * 1024  # smaller files import before a bar would be worth drawing

EmailArgument = Annotated[str, typer.Argument(help="The subscriber's address (any case).")]
StatusFilter = Annotated[
    Status | None,
    typer.Option("--status", case_sensitive=False, help="Only subscribers with this status."),
]


def say(text: str) -> None:
    """One result line, as written (the text holds addresses and names, not markup)."""
    console.print(text, markup=False, soft_wrap=True)


def note(text: str) -> None:
    """A hint on stderr, so stdout keeps the result alone."""
    errors.print(text, markup=False, highlight=False, soft_wrap=True)


CONFIRM_HINT = "`newsletter subscribers confirm-pending` sends the confirmation email"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "—"


def _must_find(subscriber: Subscriber | None, email: str, forgotten: bool) -> Subscriber:
    if subscriber is not None:
        return subscriber
    why = " (it was forgotten: GDPR erasure)" if forgotten else ""
    raise SubscriberNotFound(f"{lookup_key(email)} is not on the list{why}")


@app.command("add")
def add(
    email: EmailArgument,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    confirmed: Annotated[
        bool,
        typer.Option(
            "--confirmed", help="They already confirmed elsewhere: add as active, not pending."
        ),
    ] = False,
) -> None:
    """Add one subscriber: pending until they confirm, or active with --confirmed.

    No email is sent: a pending subscriber is asked to confirm by confirm-pending.
    A forgotten (GDPR-erased) address cannot be added back; the person can use the form.
    Example: [bold]newsletter subscribers add ada@example.com --name "Ada Lovelace"[/]
    """
    try:
        with session_scope(immediate=True) as session:
            subscriber = add_subscriber(
                session, email, name=name, source=Source.CLI, confirmed=confirmed
            )
    except InvalidAddress as exc:
        # Name the address as typed: the validator's reason alone does not say which.
        raise InvalidAddress(f"{email.strip()!r}: {exc}") from None
    say(f"added {subscriber.email} ({subscriber.status}), id {subscriber.id}")
    if not confirmed:
        note(f"pending: not mailed until they confirm; {CONFIRM_HINT}")


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "… rows/s")


def _open_csv(file: Path, label: str) -> tuple[TextIO, int]:
    """The file to import, open, and its size; or one error line naming it. Checked for
    UTF-8 whole before the first row, so a bad byte on the last line imports nothing."""
    try:
        size = file.stat().st_size
        if not file.is_file():
            fail(f"{label}: not a file")
        check_utf8(file, label)
        return file.open(encoding="utf-8-sig", newline=""), size
    except FileNotFoundError:
        fail(f"{label}: no such file")
    except OSError as exc:
        fail(f"{label}: {exc.strerror or exc}")


def _import_progress(size: int) -> Progress:
    """A bar on stderr (stdout carries the report), only for a large file on a terminal."""
    return Progress(
        SpinnerColumn(),
        TextColumn("importing {task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        _RowsPerSecond(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=size < PROGRESS_FROM_BYTES or not errors.is_terminal,
    )


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV file with a header line naming the columns.")],
    confirmed: Annotated[
        bool,
        typer.Option(
            "--confirmed", help="The addresses confirmed elsewhere: import as active, not pending."
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Rows per transaction.")
    ] = 1000,
) -> None:
    """Import a CSV: an `email` column (any case) and an optional `name` column.

    Each bad row is reported as FILE:LINE: address: reason; the good rows go in anyway.
    Addresses already on the list are left as they are: a second run changes nothing.
    Unsubscribed, bounced, complained and forgotten addresses are never brought back.
    Without --confirmed no email is sent: confirm-pending asks the new addresses to confirm.
    Exit status 1 only when the file cannot be read (missing, not UTF-8, no email column).
    Example: [bold]newsletter subscribers import members.csv --confirmed[/]
    """
    label = str(file)
    stream, size = _open_csv(file, label)
    progress = _import_progress(size)
    started = time.perf_counter()
    with stream, progress:
        task = progress.add_task(escape(label), total=None)
        report = import_csv(
            get_engine(),
            stream,
            confirmed=confirmed,
            batch_size=batch_size,
            on_bad_row=lambda row: problem(str(row)),
            on_progress=lambda rows: progress.update(task, completed=rows),
            label=label,
        )
    elapsed = time.perf_counter() - started
    for warning in report.warnings:
        problem(f"warning: {warning}")
    rate = f", {report.rows / elapsed:,.0f} rows/s" if elapsed > 1 else ""
    say(
        f"{label}: {report.rows:,} rows: {report.imported:,} imported, "
        f"{report.unchanged:,} already on the list, {report.bad:,} bad "
        f"({elapsed:.1f} s{rate})"
    )
    if report.imported and not confirmed:
        note(f"{report.imported:,} new address(es) pending: {CONFIRM_HINT}")


@app.command("export")
def export(
    file: Annotated[
        Path | None, typer.Argument(help="Where to write the CSV (default: standard output).")
    ] = None,
    status: StatusFilter = None,
) -> None:
    """Write the list as CSV, to a file or to standard output.

    Columns: email, name, status, source, created_at, confirmed_at, unsubscribed_at.
    A cell a spreadsheet would run as a formula (=, +, -, @) gets a leading ';
    such an address is written in angle brackets instead (<-x@example.com>).
    The import reads both back as they were. A file is written whole or not at all.
    Example: [bold]newsletter subscribers export active.csv --status active[/]
    """
    engine = get_engine()
    if file is None:
        written = export_csv(engine, sys.stdout, status=status)
        errors.print(f"exported {written:,} subscriber(s)", markup=False, soft_wrap=True)
        return
    written = _write_whole(file, lambda out: export_csv(engine, out, status=status))
    say(f"exported {written:,} subscriber(s) to {file}")


def _write_whole(file: Path, write: Callable[[TextIO], int]) -> int:
    """Write through a hidden partial file renamed into place, so a reader never sees half a
    list and an interrupted export leaves the previous file as it was."""
    partial = file.with_name(f".{file.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            written = write(out)
        os.replace(partial, file)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(f"{file}: {exc.strerror or exc}")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


@app.command("list")
def list_(
    status: StatusFilter = None,
    search: Annotated[
        str | None,
        typer.Option("--search", help="Part of the address or the name, any case."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows per page.")] = 50,
    after: Annotated[int, typer.Option("--after", min=0, help="Show the page after this id.")] = 0,
) -> None:
    """List subscribers by id, a page at a time.

    Example: [bold]newsletter subscribers list --search example.com --status active[/]
    """
    with session_scope() as session:
        rows = list_subscribers(session, status=status, search=search, after_id=after, limit=limit)
        total = count_subscribers(session, status=status, search=search)
    table = Table("id", "email", "name", "status", "source", "created (UTC)")
    table.columns[1].no_wrap = True
    for row in rows:
        table.add_row(
            str(row.id),
            plain(row.email),
            plain(row.name or ""),
            row.status,
            row.source,
            _when(row.created_at),
        )
    console.print(table)
    shown = f"{len(rows):,} shown of {total:,}"
    if len(rows) == limit and rows:
        shown += f"; next page: --after {rows[-1].id}"
    say(shown)


@app.command("show")
def show(email: EmailArgument) -> None:
    """Show one subscriber: status, consent, timestamps and the history of the status.

    Example: [bold]newsletter subscribers show ada@example.com[/]
    """
    with session_scope() as session:
        found = find_subscriber(session, email)
        subscriber = _must_find(found, email, found is None and is_forgotten(session, email))
        history = status_history(session, subscriber.id or 0)
    console.print(_details(subscriber))
    console.print(_history(history))


def _details(subscriber: Subscriber) -> Table:
    details = Table.grid(padding=(0, 2))
    details.add_column(style="bold")
    details.add_column()
    for label, value in (
        ("id", str(subscriber.id)),
        ("email", subscriber.email),
        ("name", subscriber.name or "—"),
        ("status", f"{subscriber.status} since {_when(subscriber.status_changed_at)}"),
        ("reason", subscriber.status_reason or "—"),
        ("source", subscriber.source),
        ("created", _when(subscriber.created_at)),
        ("confirmed", _when(subscriber.confirmed_at)),
        ("unsubscribed", _when(subscriber.unsubscribed_at)),
        ("bounced", _when(subscriber.bounced_at)),
        ("complained", _when(subscriber.complained_at)),
        ("consent", f"{_when(subscriber.consent_at)} from {subscriber.consent_ip or '—'}"),
        ("confirmation sent", _when(subscriber.confirmation_sent_at)),
    ):
        details.add_row(label, plain(value))
    return details


def _history(history: list[StatusChange]) -> Table:
    table = Table("at (UTC)", "from", "to", "source", "reason", title="status history")
    for change in history:
        table.add_row(
            _when(change.at),
            change.from_status or "(new)",
            change.to_status,
            change.source,
            plain(change.reason),
        )
    return table


@app.command("unsubscribe")
def unsubscribe_(
    email: EmailArgument,
    reason: Annotated[
        str, typer.Option("--reason", help="Recorded in the status history.")
    ] = "unsubscribed by an operator",
) -> None:
    """Unsubscribe an address (asked by email, by phone…).

    Bounced and complained addresses stay as they are: they are already never mailed.

    Example: [bold]newsletter subscribers unsubscribe ada@example.com --reason "asked by email"[/]
    """
    with session_scope(immediate=True) as session:
        found = _must_find(find_subscriber(session, email), email, False)
        before = found.status
        unsubscribe(session, found.id or 0, reason=reason, source=Source.CLI)
    if found.status == before:
        note = " (suppressed: never mailed)" if before in SUPPRESSED else ""
        say(f"{found.email} is {before}{note}: nothing changed")
    else:
        say(f"unsubscribed {found.email} (was {before})")


@app.command("forget")
def forget_(
    email: EmailArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """GDPR erasure: delete everything about a subscriber; keep only a hash of the address.

    The row and its status history are deleted; their votes stay, unlinked from them.
    The hash stops any import or operator from adding the address back.
    The person can still sign up again through the form (fresh consent).
    Example: [bold]newsletter subscribers forget ada@example.com --yes[/]
    """
    address = lookup_key(email)
    if not yes:
        typer.confirm(
            f"Forget {address}? This deletes everything about them and cannot be undone",
            abort=True,
        )
    with session_scope(immediate=True) as session:
        existed = forget(session, email)
    if existed:
        say(f"forgot {address}: deleted, and blocked from import")
    else:
        say(f"{address} was not on the list; blocked from import and re-adding anyway")


@app.command("set-status")
def set_status_(
    email: EmailArgument,
    status: Annotated[
        Status, typer.Argument(case_sensitive=False, help="The new status.", show_default=False)
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the status history).")],
) -> None:
    """Change a status on purpose, with the reason on record.

    The only way to bring a bounced or complained address back (after the mailbox was fixed).

    Example: [bold]newsletter subscribers set-status ada@example.com active --reason "fixed"[/]
    """
    with session_scope(immediate=True) as session:
        found = _must_find(find_subscriber(session, email), email, False)
        before = found.status
        subscriber = set_status(session, found.id or 0, status, reason=reason, source=Source.CLI)
    if subscriber.status == before:
        say(f"{subscriber.email} is already {before}: nothing changed")
    else:
        say(f"{subscriber.email}: {before} -> {subscriber.status}")


CONFIRM_PENDING_HELP = f"""Email the confirmation link to pending subscribers nobody has asked.

Added by an operator (add, the API) or imported without --confirmed, they are never mailed
until they confirm.
Each gets the email the form sends; the command says how many went out.
Left out: a link sent in the last {CONFIRM_VALID_DAYS} days (it still works), form sign-ups
(the form sent theirs), and addresses that once opted out (only the person opts back in).
Those who do not confirm are removed after NEWSLETTER_PENDING_EXPIRY_DAYS.
Safe to run again: nobody is asked twice while their link works.
Exit status 1 if an email could not be sent; the next run tries it again.
Example: [bold]newsletter subscribers confirm-pending[/]
"""


@app.command("confirm-pending", help=CONFIRM_PENDING_HELP)
def confirm_pending() -> None:
    """Email the pending subscribers nobody has asked (see CONFIRM_PENDING_HELP)."""
    settings = get_settings()
    with _one_line_logs(), make_backend(settings) as backend:
        report = send_pending_confirmations(get_engine(), settings, backend)
    say(f"sent {report.sent:,} confirmation email(s) through {backend.name}")
    if report.held_back:
        say(
            f"left alone: {report.held_back:,} pending address(es) that once opted out "
            "(only the person can opt in again)"
        )
    if report.failed:
        shown = ", ".join(report.failed[:3]) + (", …" if len(report.failed) > 3 else "")
        fail(
            f"{len(report.failed):,} confirmation email(s) could not be sent ({shown}); "
            "run the command again to retry them"
        )


@contextmanager
def _one_line_logs() -> Iterator[None]:
    """The service's log lines (a failed email) as one line each on stderr, no traceback."""
    handler = _OneLineHandler(logging.WARNING)
    logger = logging.getLogger("newsletter")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


class _OneLineHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}"
        problem(" ".join(text.split()))


@app.command("consent")
def consent(
    email: EmailArgument,
    reason: Annotated[
        str,
        typer.Option("--reason", help="Where and how they gave it (kept in the status history)."),
    ],
) -> None:
    """Record consent a person gave you directly: pending or unsubscribed -> active.

    For consent you hold yourself (a signed form, their email, a call): no link is clicked.
    The reason and the time are kept (status history, consent).
    Only for what the person said; to ask them instead, use confirm-pending.
    Bounced and complained addresses are refused: set-status brings back a fixed mailbox.
    Example: [bold]newsletter subscribers consent ada@example.com --reason "signed form 12"[/]
    """
    with session_scope(immediate=True) as session:
        found = find_subscriber(session, email)
        subscriber = _must_find(found, email, found is None and is_forgotten(session, email))
        before = subscriber.status
        subscriber, changed = record_consent(session, subscriber.id or 0, reason=reason)
    if changed:
        say(f"{subscriber.email}: {before} -> active, consent recorded")
    else:
        say(f"{subscriber.email} is already active: nothing changed")


@app.command("stats")
def stats(
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=520, help="Weeks of growth.")] = 12,
) -> None:
    """Subscribers by status, and new / confirmed / unsubscribed per ISO week.

    Example: [bold]newsletter subscribers stats --weeks 8[/]
    """
    with session_scope() as session:
        result = list_stats(session, weeks=weeks)
    counts = Table("status", "subscribers", title="by status")
    for name, count in result.by_status.items():
        counts.add_row(name, f"{count:,}")
    counts.add_row("[bold]total[/]", f"[bold]{result.total:,}[/]")
    console.print(counts)
    growth = Table("week", "from", "new", "confirmed", "unsubscribed", title="growth")
    for week in result.growth:
        growth.add_row(
            week.week,
            week.starts.isoformat(),
            f"{week.new:,}",
            f"{week.confirmed:,}",
            f"{week.unsubscribed:,}",
        )
    console.print(growth)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="subscribers")
