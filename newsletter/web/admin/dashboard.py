"""The desk's front page, and its growth chart as an image of its own.

The growth over twelve weeks is the page's most costly part (five counts per week over
the subscriber and status-change indexes, about 70-200 ms at a million subscribers on
SQLite). The page computes it once and writes the numbers into the chart's address, so
the image draws what the table beside it shows without counting again; the chart's
address without numbers (a bookmark) counts them itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from newsletter.analytics.dashboard import WEEKS, growth
from newsletter.analytics.dashboard import dashboard as build_dashboard
from newsletter.core.clock import utcnow
from newsletter.core.errors import InvalidInput
from newsletter.web.admin.auth import Reader
from newsletter.web.admin.charts import growth_svg, svg_answer
from newsletter.web.admin.presenter import DeskPagesDep
from newsletter.web.deps import ServicesDep, SessionDep
from subscribers.service import WeekGrowth

router = APIRouter(default_response_class=HTMLResponse)

GROWTH_CHART = "/admin/charts/growth.svg"
SERIES: Final = ("new", "confirmed", "unsubscribed", "bounced", "complained")
COUNT_MAX: Final = 10**9
Counts = Annotated[str, Query(max_length=WEEKS * 11)]


def growth_chart_url(weeks: Sequence[WeekGrowth]) -> str:
    """The chart's address carrying the weeks' numbers (the first Monday, then each
    series as comma-separated counts, oldest week first)."""
    if not weeks:
        return GROWTH_CHART
    numbers = {name: ",".join(str(getattr(w, name)) for w in weeks) for name in SERIES}
    return f"{GROWTH_CHART}?{urlencode({'from': weeks[0].starts.isoformat(), **numbers})}"


def weeks_from(start: date, series: dict[str, str]) -> list[WeekGrowth]:
    """The weeks written by `growth_chart_url`; InvalidInput for anything else (counts
    that are not whole numbers from 0 to a billion, series of different lengths)."""
    counts: dict[str, list[int]] = {}
    for name, text in series.items():
        parts = text.split(",") if text else []
        if not all(p.isascii() and p.isdigit() and int(p) <= COUNT_MAX for p in parts):
            raise InvalidInput(f"{name}: whole numbers from 0 to {COUNT_MAX:,}, comma-separated")
        counts[name] = [int(p) for p in parts]
    lengths = {len(c) for c in counts.values()}
    if len(lengths) != 1 or not 1 <= lengths.pop() <= WEEKS:
        raise InvalidInput(f"every series needs the same number of weeks, 1 to {WEEKS}")
    if not date(1, 1, 1) < start < date.max - timedelta(weeks=WEEKS):
        raise InvalidInput("from: a date of this era")
    mondays = [start + timedelta(weeks=i) for i in range(len(counts["new"]))]
    return [
        WeekGrowth(
            week=f"{day.isocalendar().year}-W{day.isocalendar().week:02d}",
            starts=day,
            new=counts["new"][i],
            confirmed=counts["confirmed"][i],
            unsubscribed=counts["unsubscribed"][i],
            bounced=counts["bounced"][i],
            complained=counts["complained"][i],
        )
        for i, day in enumerate(mondays)
    ]


@router.get("/admin")
def dashboard(
    who: Reader, pages: DeskPagesDep, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    board = build_dashboard(session, services.settings, utcnow())
    chart = growth_chart_url(board.growth)
    return pages.render("dashboard.html", board=board, growth_chart=chart)


@router.get(GROWTH_CHART, response_class=Response)
def growth_chart(
    who: Reader,
    session: SessionDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    new: Counts = "",
    confirmed: Counts = "",
    unsubscribed: Counts = "",
    bounced: Counts = "",
    complained: Counts = "",
) -> Response:
    """The chart of the numbers in its address (the page's), or of the list now."""
    series = {"new": new, "confirmed": confirmed, "unsubscribed": unsubscribed,
              "bounced": bounced, "complained": complained}  # fmt: skip
    if start is None:
        if any(series.values()):
            raise InvalidInput("from: the first week's Monday goes with the counts")
        return svg_answer(growth_svg(growth(session, utcnow())))
    return svg_answer(growth_svg(weeks_from(start, series)))
