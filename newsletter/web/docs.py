"""The admin API's interactive docs at /docs (Swagger UI), under a policy of their own.

FastAPI's page loads Swagger UI from a CDN and starts it with one inline script. Operators'
networks are often offline and a page must need nothing from elsewhere, so Swagger UI's
two files come from an installed package (`swagger-ui-bundle-v2`) and are served here, at
/docs/assets/; the page allows them and its one inline script by its hash, and still no
other inline script, no framing and no form. (FastAPI's ReDoc page, which needs web fonts,
inline styles and blob workers as well, is not served.)
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from newsletter.web.security import CSP, policy

DOCS: Final = "/docs"
ASSETS: Final = DOCS + "/assets/"
SWAGGER_UI: Final = Path(swagger_ui_path)
_ASSET_TYPES: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}

router = APIRouter(include_in_schema=False)

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def _hashes(page: bytes) -> str:
    digests = (hashlib.sha256(body).digest() for body in _INLINE_SCRIPT.findall(page))
    return " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)


@router.get(DOCS)
def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    assets = root + ASSETS
    page = get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or ""),
        title=f"{request.app.title} - API docs",
        swagger_js_url=assets + "swagger-ui-bundle.js",
        swagger_css_url=assets + "swagger-ui.css",
        swagger_favicon_url=assets + "favicon-32x32.png",
    )
    page.headers[CSP] = policy(
        default_src="'none'",
        script_src=f"'self' {_hashes(bytes(page.body))}",
        style_src="'self'",
        img_src="'self' data:",
        connect_src="'self'",
        form_action="'none'",
        base_uri="'none'",
        frame_ancestors="'none'",
    )
    return page


@router.get(ASSETS + "{name}")
def asset(name: str) -> FileResponse:
    """Swagger UI's own files, from the installed package; nothing else of it is served."""
    media_type = _ASSET_TYPES.get(name)
    if media_type is None:
        raise HTTPException(status_code=404)
    return FileResponse(SWAGGER_UI / name, media_type=media_type)
