"""The desk report as a CSV file, for a spreadsheet: one table of sections, each row
`section, item, detail, count, rate, previous five average`.

A link's URL or a comparison's title comes from outside (a clicked URL is what the
provider reported), and a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return (or a blank or a look-alike sign: `subscribers.export.starts_formula`) would be run
as a formula by a spreadsheet: such a cell gets a leading `'`. Only such a cell: the list
export's stricter rule (marking text after a `,` or `;` too) would put a `'` in the middle
of a URL with a query string, and a link should stay as the provider reported it, to copy.
Rates are plain decimals (0.1234), as a spreadsheet computes with them; an empty cell is a
rate whose base was zero.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from newsletter.analytics.desk_report import DeskReport
from subscribers.export import starts_formula

HEADER = ("section", "item", "detail", "count", "rate", "previous five average")

Row = tuple[str, str, str, int | str, float | str | None, float | str | None]


def _rate(value: float | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else f"{value:.4f}"


def _rows(report: DeskReport) -> Iterator[Row]:
    issue = report.issue
    yield ("issue", f"#{issue.number} {issue.week} {issue.status}", issue.subject, "", "", "")
    for m in report.measures:
        yield ("numbers", m.label, f"of {m.of}" if m.of else "", m.count, m.rate, m.average)
    for hour in report.hourly.hours:
        when = f"{hour.starts:%Y-%m-%d %H}:00 UTC"
        yield ("first opens per hour", f"hour {hour.hour}", when, hour.opens, "", "")
        yield ("first clicks per hour", f"hour {hour.hour}", when, hour.clicks, "", "")
    for link in report.links:
        yield ("links", link.url, "of clickers", link.clicks, link.share, "")
    for comparison in report.comparisons:
        yield ("vote", comparison.title, f"turnout of {comparison.turnout_of}", comparison.votes,
               comparison.turnout, "")  # fmt: skip
        for tool in comparison.tools:
            yield ("vote", comparison.title, f"{tool.name}: community share", tool.votes,
                   tool.community_share, "")  # fmt: skip
            yield ("panel", comparison.title, f"{tool.name}: ship share", "", tool.ship_share,
                   "")  # fmt: skip


def formula_safe(cell: str) -> str:
    """The cell, with a leading `'` if a spreadsheet could read it as a formula."""
    return "'" + cell if starts_formula(cell) else cell


def report_csv(report: DeskReport) -> str:
    """The whole report as CSV text (a few hundred rows at most: 96 hourly, one per link)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for section, item, detail, count, rate, average in _rows(report):
        cells = (section, item, detail, str(count), _rate(rate), _rate(average))
        writer.writerow([formula_safe(cell) for cell in cells])
    return out.getvalue()
