"""Public pages for readers: sign up, confirm, unsubscribe, vote, read past issues. No
JavaScript needed. Tokens are the only authority: every route that changes something
verifies one first, and a bad one changes nothing (see `newsletter.web.errors`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from newsletter.web.pages import confirm, optout, signup, site, vote

router = APIRouter(default_response_class=HTMLResponse)
for module in (site, signup, confirm, optout, vote):
    router.include_router(module.router)
