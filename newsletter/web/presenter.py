"""Pages rendered from templates/web/ with what every page needs: the site's name, its
postal address, and `urls`, so templates build every link from `newsletter.links.urls`
and none is typed out by hand."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from newsletter.core.settings import Settings
from newsletter.links.urls import SiteUrls

SITE_RELATIVE = SiteUrls("")
"""Links inside the site's own pages are site-relative: they work behind any host name."""


class Pages:
    """Renders one request's page; built per request (see `deps.PagesDep`)."""

    def __init__(self, templates: Jinja2Templates, settings: Settings, request: Request) -> None:
        self.templates = templates
        self.settings = settings
        self.request = request
        self.urls = SITE_RELATIVE

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return self.templates.TemplateResponse(
            self.request,
            template,
            {
                "urls": SITE_RELATIVE,
                "from_name": self.settings.from_name,
                "postal_address": self.settings.postal_address,
                **context,
            },
            status_code=status_code,
        )

    def message(
        self,
        title: str,
        body: str,
        action: tuple[str, str] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        """A card with a title, one paragraph and at most one button (label, URL)."""
        return self.render(
            "message.html", status_code=status_code, title=title, body=body, action=action
        )
