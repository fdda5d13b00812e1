"""The desk's front page."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from newsletter.web.admin.auth import Reader
from newsletter.web.admin.presenter import DeskPagesDep

router = APIRouter(default_response_class=HTMLResponse)


@router.get("/admin")
def dashboard(who: Reader, pages: DeskPagesDep) -> HTMLResponse:
    return pages.render("dashboard.html")
