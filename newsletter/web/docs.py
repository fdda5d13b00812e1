"""The admin API's interactive docs at /docs (Swagger UI), under a policy of their own.

FastAPI's page loads Swagger UI from its CDN and starts it with one inline script. The
site's policy allows neither, so this page is served here rather than by FastAPI, with a
policy that allows that CDN and that one script by its hash, and still no other inline
script, no framing and no form. (FastAPI's ReDoc page, which needs web fonts, inline
styles and blob workers as well, is not served.)
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from newsletter.web.security import CSP, policy

DOCS: Final = "/docs"
CDN: Final = "https://cdn.jsdelivr.net"
FAVICON: Final = "https://fastapi.tiangolo.com"

router = APIRouter(include_in_schema=False)

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def _hashes(page: bytes) -> str:
    digests = (hashlib.sha256(body).digest() for body in _INLINE_SCRIPT.findall(page))
    return " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)


@router.get(DOCS)
def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    page = get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or ""),
        title=f"{request.app.title} - API docs",
    )
    page.headers[CSP] = policy(
        default_src="'none'",
        script_src=f"{CDN} {_hashes(bytes(page.body))}",
        style_src=CDN,
        img_src=f"'self' data: {FAVICON}",
        connect_src="'self'",
        form_action="'none'",
        base_uri="'none'",
        frame_ancestors="'none'",
    )
    return page
