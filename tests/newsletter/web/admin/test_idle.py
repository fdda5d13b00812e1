"""The desk's idle limit through the app: a cookie last signed more than 12 hours ago is
refused (sign in again), one signed within them opens the page and comes back re-signed."""

from __future__ import annotations

from datetime import timedelta

import httpx
import time_machine
from sqlalchemy import Engine

from newsletter.accounts.roles import Role
from newsletter.accounts.sessions import CookieSigner, open_session
from newsletter.accounts.team import find_account
from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.web.admin.auth import COOKIE
from tests.newsletter.web.admin.desk import cookie_value, email_of


def test_a_cookie_idle_for_more_than_12_hours_is_refused(
    desk: str, engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as session:
        account = find_account(session, email_of(Role.EDITOR))
        assert account is not None
        token = open_session(session, account).token
    signer = CookieSigner(settings.secret(), settings.admin_idle_timeout)
    assert settings.admin_idle_timeout == timedelta(hours=12)
    with time_machine.travel(utcnow() - timedelta(hours=12, minutes=1), tick=False):
        stale = signer.sign(token)
    with time_machine.travel(utcnow() - timedelta(hours=11, minutes=59), tick=False):
        recent = signer.sign(token)
    with httpx.Client(base_url=desk, trust_env=False) as client:
        refused = client.get("/admin", headers={"Cookie": f"{COOKIE}={stale}"})
        opened = client.get("/admin", headers={"Cookie": f"{COOKIE}={recent}"})
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/admin/sign-in")
    assert opened.status_code == 200
    fresh = cookie_value(opened, COOKIE)
    assert fresh is not None
    assert fresh != recent  # re-signed now: another 12 hours from this page
    assert signer.token(fresh) == token
