"""An issue's report on the desk: the printable page, the CSV download and the hourly
chart. The issue page of the desk includes the same partial (`admin/issue_report.html`,
with `report` from `analytics.desk_report.desk_report`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from newsletter.analytics.desk_report import desk_report
from newsletter.analytics.hourly import issue_hourly
from newsletter.analytics.report_csv import report_csv
from newsletter.web.admin.auth import Reader
from newsletter.web.admin.charts import activity_svg, svg_answer
from newsletter.web.admin.presenter import DeskPagesDep
from newsletter.web.deps import SessionDep

router = APIRouter(default_response_class=HTMLResponse)


@router.get("/admin/issues/{number}/report")
def report_page(number: int, who: Reader, pages: DeskPagesDep, session: SessionDep) -> HTMLResponse:
    return pages.render("issue_report_page.html", report=desk_report(session, number))


@router.get("/admin/issues/{number}/report.csv", response_class=Response)
def report_download(number: int, who: Reader, session: SessionDep) -> Response:
    body = report_csv(desk_report(session, number))
    name = f"issue-{number}-report.csv"
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/admin/issues/{number}/activity.svg", response_class=Response)
def activity_chart(number: int, who: Reader, session: SessionDep) -> Response:
    return svg_answer(activity_svg(issue_hourly(session, number)))
