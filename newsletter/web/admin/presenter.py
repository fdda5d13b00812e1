"""Desk pages rendered from templates/web/admin/ with what every one of them needs: the
signed-in account, the CSRF token for its forms, `can(action)` to decide which buttons
show (the same table the routes enforce), and the number formats."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from newsletter.accounts.roles import Action, allows
from newsletter.accounts.sessions import Signed
from newsletter.web.admin.auth import CSRF_FIELD, SignedDep
from newsletter.web.deps import ServicesDep


def thousands(value: int | float | None) -> str:
    """1234567 is '1,234,567'; None is an em dash."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"


def percent(value: float | None) -> str:
    """A share (0.1234) as '12.3%'; None (nothing to divide by) is an em dash."""
    return "—" if value is None else f"{value * 100:.1f}%"


def when(value: datetime | None) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


FILTERS = {"thousands": thousands, "percent": percent, "when": when}


class DeskPages:
    """Renders one request's desk page; built per request (see `DeskPagesDep`)."""

    def __init__(self, services: ServicesDep, request: Request, who: Signed | None) -> None:
        self.templates = services.templates
        self.settings = services.settings
        self.request = request
        self.who = who

    def can(self, action: str | Action) -> bool:
        return self.who is not None and allows(self.who.account.role, Action(action))

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return self.templates.TemplateResponse(
            self.request,
            f"admin/{template}",
            {
                "who": self.who,
                "account": self.who.account if self.who else None,
                "csrf_field": CSRF_FIELD,
                "csrf_token": self.who.csrf_token if self.who else "",
                "can": self.can,
                "from_name": self.settings.from_name,
                "path": self.request.url.path,
                **context,
            },
            status_code=status_code,
        )

    def message(self, title: str, body: str, status_code: int = 200) -> HTMLResponse:
        return self.render("message.html", status_code=status_code, title=title, body=body)


def desk_pages(services: ServicesDep, request: Request, who: SignedDep) -> DeskPages:
    return DeskPages(services, request, who)


DeskPagesDep = Annotated[DeskPages, Depends(desk_pages)]
