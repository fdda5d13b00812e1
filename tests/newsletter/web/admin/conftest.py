from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.newsletter.web.admin.desk import add_accounts


@pytest.fixture
def desk(live_app: str, engine: Engine) -> str:
    """The live app with one account of each role (`desk.email_of(role)`, `desk.PASSWORD`);
    yields its base URL. Sign in with `desk.signed_in(base, role)`."""
    add_accounts(engine)
    return live_app
