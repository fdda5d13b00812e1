"""The typed dependencies: the admin guard."""

from __future__ import annotations

import httpx

from newsletter.core.settings import Settings
from tests.newsletter.web.helpers import ADMIN


def test_admin_api_requires_the_token(http: httpx.Client, settings: Settings) -> None:
    assert http.get("/api/subscribers").status_code == 401
    wrong = http.get("/api/subscribers", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert http.get("/api/stats", headers=ADMIN).status_code == 200
    settings.admin_token = ""
    off = http.get("/api/subscribers", headers=ADMIN)
    assert off.status_code == 503
    assert "NEWSLETTER_ADMIN_TOKEN" in off.json()["detail"]
