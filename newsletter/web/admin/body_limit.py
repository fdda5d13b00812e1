"""The desk's request bodies are bounded before anything reads them.

Starlette parses a form by reading the whole body (spooling files to disk), and the desk
parses its forms in `auth.may` and the sign-in route: without a bound, one anonymous post
could fill the disk or hold a worker. So every POST under /admin is judged by its headers
before the app sees it: a `Content-Length` over the route's limit is answered 413 with a
desk page and the body is never read. The desk's forms are small (`FORM_MAX`); the CSV
import takes `imports.UPLOAD_MAX` and the multipart envelope around it (`ENVELOPE`).

A body without a `Content-Length` (`Transfer-Encoding: chunked`) is refused with 411:
browsers always send the length of a form, and a length known up front is what lets the
refusal come before the reading. (Counting while reading would refuse only half-way, with
part of the file already on disk.)
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from newsletter.web.admin import imports
from newsletter.web.admin.auth import COOKIE_PATH
from newsletter.web.admin.imports import in_mb
from newsletter.web.admin.presenter import DeskPages
from newsletter.web.deps import get_services

FORM_MAX: Final = 64 * 1024
"""A desk form's body: a few fields and a CSRF token; 64 KiB is far above any of them."""
ENVELOPE: Final = 64 * 1024
"""What a multipart upload adds around its file: boundaries, part headers, other fields."""


def body_limit(path: str) -> int:
    """The largest body a POST to `path` may carry."""
    if path == imports.IMPORT:
        return imports.UPLOAD_MAX + ENVELOPE
    return FORM_MAX


class DeskBodyLimit:
    """Answers 413 (too large) or 411 (no length) before the desk reads a POST's body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(COOKIE_PATH)
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        length = headers.get(b"content-length")
        limit = body_limit(scope["path"])
        if length is None:
            if b"transfer-encoding" in headers:
                body = (
                    "The form came without its length (a chunked body), which the desk does "
                    "not take. Nothing was changed; send it from the page's form."
                )
                await self._refuse(scope, receive, send, "Length required", body, 411)
                return
        elif not length.isdigit() or int(length) > limit:
            body = (
                f"The form was larger than the desk takes here ({in_mb(limit)}), so it was "
                "not read and nothing was changed. A larger CSV goes through "
                "`newsletter subscribers import` on the server."
            )
            await self._refuse(scope, receive, send, "Too large", body, 413)
            return
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, title: str, body: str, code: int
    ) -> None:
        request = Request(scope, receive)
        page = DeskPages(get_services(request), request, None).message(
            title, body, status_code=code
        )
        page.headers["Connection"] = "close"  # the unread body is not waited for
        await page(scope, receive, send)
