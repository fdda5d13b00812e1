"""The audit log page: newest first, one kind of action, a page at a time by keyset."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import Engine

from newsletter.accounts.audit import COMMAND_LINE, Audited, record
from newsletter.accounts.roles import Role
from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.web.admin.audit_log import PAGE_SIZE
from tests.newsletter.web.admin.desk import email_of, signed_in

ROW = re.compile(
    r"<td>([^<]*)</td>\s*<td><span class=\"badge\">([^<]*)</span></td>\s*<td>([^<]*)</td>"
)


def targets(html: str) -> list[str]:
    return [m[3] for m in ROW.finditer(html)]


def test_newest_first_paged_by_keyset_and_filtered(desk: str, engine: Engine) -> None:
    start = utcnow() - timedelta(days=1)
    with session_scope(engine) as session:
        for n in range(PAGE_SIZE + 5):
            kind = Audited.ISSUE_APPROVE if n % 2 else Audited.ISSUE_HOLD
            record(session, COMMAND_LINE, kind, f"issue {n}", at=start + timedelta(minutes=n))
    with signed_in(desk, Role.ADMIN) as browser:
        first = browser.get("/admin/audit")
        assert first.status_code == 200
        shown = targets(first.text)
        assert len(shown) == PAGE_SIZE
        assert shown[0] == ""  # the newest: the admin's own sign-in
        assert "sign-in" in first.text
        assert email_of(Role.ADMIN) in first.text
        older = re.search(r'href="/admin/audit\?before=(\d+)"', first.text)
        assert older, first.text
        second = targets(browser.get(f"/admin/audit?before={older[1]}").text)
        assert not set(shown) & {t for t in second if t}
        everything = [t for t in shown + second if t.startswith("issue")]
        assert everything == [f"issue {n}" for n in reversed(range(PAGE_SIZE + 5))]

        holds = browser.get("/admin/audit", params={"action": "issue hold"})
        assert targets(holds.text) == [f"issue {n}" for n in reversed(range(0, PAGE_SIZE + 5, 2))]
        assert "Older" not in holds.text
        none = browser.get("/admin/audit", params={"action": "subscriber forget"})
        assert "Nothing of this kind has been done yet" in none.text
        wrong = browser.get("/admin/audit", params={"action": "drop table"})
        assert wrong.status_code == 422
        assert "Sign out" in wrong.text  # the desk's own message page
