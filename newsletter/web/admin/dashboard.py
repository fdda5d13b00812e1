"""The desk's front page, and its growth chart as an image of its own."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from newsletter.analytics.dashboard import dashboard as build_dashboard
from newsletter.analytics.dashboard import growth
from newsletter.core.clock import utcnow
from newsletter.web.admin.auth import Reader
from newsletter.web.admin.charts import growth_svg, svg_answer
from newsletter.web.admin.presenter import DeskPagesDep
from newsletter.web.deps import ServicesDep, SessionDep

router = APIRouter(default_response_class=HTMLResponse)

GROWTH_CHART = "/admin/charts/growth.svg"


@router.get("/admin")
def dashboard(
    who: Reader, pages: DeskPagesDep, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    board = build_dashboard(session, services.settings, utcnow())
    return pages.render("dashboard.html", board=board, growth_chart=GROWTH_CHART)


@router.get(GROWTH_CHART, response_class=Response)
def growth_chart(who: Reader, session: SessionDep) -> Response:
    return svg_answer(growth_svg(growth(session, utcnow())))
