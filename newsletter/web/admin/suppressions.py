"""Suppressed addresses on the desk: bounced and complained, each with the change that
suppressed it (the event and the provider's words are its reason, written by
`newsletter.tracking.suppression`), newest first, keyset paged; and an admin lifting one
with a reason (`subscribers.suppression.lift`, which says what status a lifted address
gets), audited in the same transaction.

Each page is one query per suppressed status on the status index (50 rows each) and one
on the status_change index for those rows.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from newsletter.accounts.audit import Audited, record
from newsletter.accounts.roles import Action
from newsletter.accounts.sessions import Signed
from newsletter.core.errors import InvalidInput
from newsletter.web.admin.auth import Reader, actor, may
from newsletter.web.admin.forms import Confirm, confirmed
from newsletter.web.admin.presenter import DeskPagesDep
from newsletter.web.admin.subscriber_page import Why
from newsletter.web.deps import ROW_ID_MAX, RowId, SessionDep, WriteSessionDep
from newsletter.web.params import NoControls
from subscribers.models import SUPPRESSED, Status
from subscribers.suppression import lift, suppressed

router = APIRouter(default_response_class=HTMLResponse)

SUPPRESSIONS: Final = "/admin/suppressions"
KINDS: Final = sorted(s.value for s in SUPPRESSED)


@router.get(SUPPRESSIONS)
def suppressions_page(
    who: Reader,
    pages: DeskPagesDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=20), NoControls] = "",
    before: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
) -> HTMLResponse:
    if status and status not in KINDS:
        raise InvalidInput(f"status: {' or '.join(KINDS)}, or empty for both")
    chosen = Status(status) if status else None
    return pages.render(
        "suppressions.html",
        page=suppressed(session, status=chosen, before=before),
        status=status,
        kinds=KINDS,
    )


@router.post(SUPPRESSIONS + "/{subscriber_id}/lift")
def lift_suppression(
    session: WriteSessionDep,
    pages: DeskPagesDep,
    who: Annotated[Signed, Depends(may(Action.SUPPRESSION_LIFT))],
    subscriber_id: RowId,
    reason: Why = "",
    confirm: Confirm = "",
) -> Response:
    confirmed(confirm)
    lifted = lift(session, subscriber_id, reason=reason)
    detail = f"{lifted.was.value} -> {lifted.now.value}: {' '.join(reason.split())}"
    record(session, actor(who), Audited.SUPPRESSION_LIFT, f"subscriber #{subscriber_id}", detail)
    return pages.message(
        "Suppression lifted",
        f"{lifted.subscriber.email} was {lifted.was.value} and is now {lifted.now.value}. "
        + _NEXT[lifted.now],
    )


_NEXT: Final = {
    Status.ACTIVE: "It is mailed again from the next issue.",
    Status.PENDING: "It is not mailed until the person confirms through the form.",
    Status.UNSUBSCRIBED: "It is not mailed: the person can sign up again through the form.",
}
