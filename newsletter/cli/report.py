"""`newsletter issue report N`: an issue's numbers as tables, or as JSON for scripts.

Thin: parse, call `newsletter.analytics.issue_report`, present. An unknown issue number
rises as a NotFound and the root group turns it into one line and exit status 1.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Column, Table

from newsletter.analytics import IssueReport
from newsletter.analytics import issue_report as build_report
from newsletter.cli.console import console, plain, say
from newsletter.core.database import get_engine, session_scope

LINKS_SHOWN = 20
NONE = "—"


def percent(rate: float | None) -> str:
    """A share as a percentage with one decimal; "—" when its base was zero."""
    return NONE if rate is None else f"{rate:.1%}"


def _numbers(report: IssueReport) -> Table:
    rates = report.rates
    table = Table("", "recipients", "rate", "of", title=f"issue #{report.number}")
    table.columns[1].justify = table.columns[2].justify = "right"
    for name, count in (
        ("audience", report.audience),
        ("accepted", report.accepted),
        ("failed", report.failed),
        ("unknown", report.unknown),
        ("skipped", report.skipped),
        ("queued (to send)", report.queued),
    ):
        table.add_row(name, f"{count:,}", "", "")
    table.add_section()
    table.add_row("processed (no answer yet)", f"{report.processed:,}", "", "")
    table.add_row("delivered", f"{report.delivered:,}", percent(rates.delivered), "accepted")
    table.add_row("deferred", f"{report.deferred:,}", "", "")
    for name, count, rate in (
        ("bounced, hard", report.bounced_hard, rates.bounced_hard),
        ("bounced, soft", report.bounced_soft, rates.bounced_soft),
        ("dropped", report.dropped, rates.dropped),
    ):
        table.add_row(name, f"{count:,}", percent(rate), "accepted")
    for name, count, rate in (
        ("complained (spam)", report.complained, rates.complained),
        ("unsubscribed", report.unsubscribed, rates.unsubscribed),
    ):
        table.add_row(name, f"{count:,}", percent(rate), "delivered")
    table.add_section()
    for name, count, rate in (
        ("unique opens", report.unique_opens, rates.unique_opens),
        ("machine opens", report.machine_opens, rates.machine_opens),
        ("unique clicks", report.unique_clicks, rates.unique_clicks),
    ):
        table.add_row(name, f"{count:,}", percent(rate), "delivered")
    return table


def _links(report: IssueReport) -> Table:
    table = Table(
        Column("link", overflow="fold"),  # a long address wraps whole, never cut short
        Column("unique clicks", justify="right"),
        Column("of clickers", justify="right"),
        title="links clicked",
    )
    for link in report.links[:LINKS_SHOWN]:
        table.add_row(plain(link.url), f"{link.clicks:,}", percent(link.share))
    return table


def _show(report: IssueReport) -> None:
    head = f"issue #{report.number} ({report.week}, {report.status})"
    if not report.sent:
        say(f"{head}: not sent yet; audience 0")
        return
    say(f"{head}: {report.subject}")
    console.print(_numbers(report))
    say(f"{report.events:,} provider events stored")
    if report.links:
        console.print(_links(report))
        if len(report.links) > LINKS_SHOWN:
            say(f"… and {len(report.links) - LINKS_SHOWN} more (--json lists them all)")
    else:
        say("no link clicked yet")


def issue_report_command(
    number: Annotated[int, typer.Argument(help="Issue number.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON (the API's shape).")
    ] = False,
) -> None:
    """Show an issue's numbers: audience, deliveries, bounces (hard and soft apart),
    complaints, opens (machine opens apart), clicks, their rates, and the links clicked.

    Example: [bold]newsletter issue report 3[/]  ·  [bold]newsletter issue report 3 --json[/]
    """
    with session_scope(get_engine()) as session:
        report = build_report(session, number)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        _show(report)


def register(issue_group: typer.Typer) -> None:
    """Add `report` to the `issue` group."""
    issue_group.command("report")(issue_report_command)
