"""The audit log on the desk (admins only): who did what and when, newest first, a page
at a time by keyset (`?before=` the last id shown), optionally one kind of action.

Queries: one indexed read of at most `PAGE_SIZE + 1` rows by primary key (descending),
filtered on the indexed `action` column when asked; nothing is counted."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from newsletter.accounts.audit import Audited, entries
from newsletter.accounts.roles import Action
from newsletter.accounts.sessions import Signed
from newsletter.core.errors import InvalidInput
from newsletter.web.admin.auth import may
from newsletter.web.admin.presenter import DeskPagesDep
from newsletter.web.deps import SessionDep

router = APIRouter(default_response_class=HTMLResponse)

PAGE_SIZE: Final = 50
ID_MAX: Final = 2**31 - 1


def audited(raw: str) -> Audited | None:
    """The filter's action: empty for every one; anything not an action is refused."""
    if not raw:
        return None
    try:
        return Audited(raw)
    except ValueError:
        raise InvalidInput(f"action: {raw!r} is not an action the log records") from None


@router.get("/admin/audit")
def audit_page(
    who: Annotated[Signed, Depends(may(Action.AUDIT_READ))],
    pages: DeskPagesDep,
    session: SessionDep,
    action: Annotated[str, Query(max_length=40)] = "",
    before: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
) -> HTMLResponse:
    kind = audited(action)
    found = entries(session, before_id=before, limit=PAGE_SIZE + 1, action=kind)
    shown = found[:PAGE_SIZE]
    older = shown[-1].id if len(found) > PAGE_SIZE and shown else None
    return pages.render(
        "audit.html", entries=shown, older=older, action=kind, actions=list(Audited)
    )
