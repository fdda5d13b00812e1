"""The headers every answer carries, and the host names the editor's preview answers for.

Every answer of the app (pages, error pages, JSON, the feed, the stylesheets) leaves through
`SecurityHeaders`, a plain ASGI middleware that adds the site's policy to the headers a
response does not set itself. A route that needs another policy sets the header on its
response and keeps it: the email shown inside the preview's frames (`FRAME_HEADERS`), the
API docs (`newsletter.web.docs`). The 500 answer is sent by Starlette outside every
middleware, so its handler (`errors.unexpected`) adds `site_headers` itself.

Why a middleware of our own rather than the `secure` package: the headers are a handful of
fixed strings, but two policies must coexist (a page that may frame the email, and the
email that may be framed by it), and `secure`'s ASGI middleware replaces whatever a route
set; a table of strings with one rule ("the route's own header wins") is shorter to read
and review than a dependency configured around that.

The site's policy allows scripts, styles, frames and requests from the site itself only:
no inline script, no inline style, no event handler attribute (the templates link
`/static/*.css` and `/static/*.js`). Nothing frames the site (`frame-ancestors 'none'`,
and `X-Frame-Options` for browsers that predate it). HSTS is sent only when
`NEWSLETTER_SITE_URL` is https, and never by the preview server, which is plain http on
loopback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.core.settings import Settings

CSP: Final = "Content-Security-Policy"


def policy(**directives: str) -> str:
    """A Content-Security-Policy from keyword directives (`default_src="'none'"`)."""
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in directives.items())


SITE_POLICY: Final = policy(
    default_src="'none'",
    script_src="'self'",
    style_src="'self'",
    img_src="'self' data:",
    connect_src="'self'",  # the preview page polls /preview/version
    frame_src="'self'",  # the preview page frames /preview/email
    form_action="'self'",
    base_uri="'none'",
    frame_ancestors="'none'",
)

FRAME_POLICY: Final = policy(
    default_src="'none'",
    style_src="'unsafe-inline' https:",  # an email is styled inline, fonts may be linked
    img_src="https: data:",
    font_src="https: data:",
    base_uri="'none'",
    form_action="'none'",
    frame_ancestors="'self'",
    sandbox="allow-popups allow-popups-to-escape-sandbox",
)
"""The email itself, as the preview shows it inside its frames: styles inline as every
email is, images and fonts from https, no script at all, shown only in a frame of the
preview server's own page; sandboxed, so it cannot reach the preview server, while its
links still open in a new tab."""

FRAME_HEADERS: Final[Mapping[str, str]] = {CSP: FRAME_POLICY, "X-Frame-Options": "SAMEORIGIN"}

PERMISSIONS: Final = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)
"""Powerful browser features no page of the site uses, switched off for it and its frames."""

HSTS: Final = "max-age=31536000"
"""A year, without includeSubDomains: the operator's other hosts are not ours to decide."""

COMMON: Final[Mapping[str, str]] = {
    CSP: SITE_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Token links put the token in the path: no other site ever sees it as a referrer. The
    # site's own pages still get it (and a form's POST keeps its real Origin header, which
    # `no-referrer` would turn into "null").
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS,
    "Cross-Origin-Opener-Policy": "same-origin",
}


def site_headers(settings: Settings, *, preview: bool = False) -> dict[str, str]:
    """The headers of every answer of an app built from `settings`."""
    headers = dict(COMMON)
    if urlsplit(settings.site_url).scheme == "https" and not preview:
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeaders:
    """Adds `headers` to every HTTP answer that does not carry them already."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing(MutableHeaders(scope=message), self.headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_missing(headers: MutableHeaders, wanted: Mapping[str, str]) -> None:
    for name, value in wanted.items():
        if name not in headers:
            headers[name] = value


LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "[::1]")
"""The names the editor's preview answers for (any other Host header is refused with a
400). The preview listens on loopback; a page on another site that makes its name resolve
to 127.0.0.1 (DNS rebinding) reaches the same socket, but its requests carry that name, so
they are refused before anything is read or written. The port is not compared: a browser
always sends the port it connected to, so a name check alone is what rebinding defeats."""


def install(app: FastAPI, settings: Settings, *, preview: bool) -> None:
    """The headers on every answer; on the preview server, the loopback names first (its
    refusals carry the headers too: the middleware added last runs first)."""
    if preview:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_HOSTS))
    app.add_middleware(SecurityHeaders, headers=site_headers(settings, preview=preview))
