"""The site's stylesheets and the preview's script, served from templates/web/static/.

They are files rather than `<style>` and `<script>` blocks so that the pages' policy
(`security.SITE_POLICY`) can refuse every inline script and style. Templates name them
with `static('site.css')`.
"""

from __future__ import annotations

from typing import Final

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from newsletter.core.settings import Settings

STATIC: Final = "/static"
FOLDER: Final = "web/static"
"""Under `NEWSLETTER_TEMPLATES_DIR`, beside the templates that link them."""


def static_url(name: str) -> str:
    """The site-relative URL of one file (`static_url('site.css')` is `/static/site.css`)."""
    return f"{STATIC}/{name}"


def install(app: FastAPI, templates: Jinja2Templates, settings: Settings) -> None:
    app.mount(STATIC, StaticFiles(directory=settings.templates_dir / FOLDER), name="static")
    templates.env.globals["static"] = static_url
