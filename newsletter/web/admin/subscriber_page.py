"""One subscriber on the desk: the status history with reasons, the consent record, the
issues sent to them with what became of each, their opens, clicks and votes; and the
admins' forms to change the status (with a reason) and to forget the address (typing it).

The page reads the subscriber by primary key, its history by the status_change index, and
its mail and votes through `newsletter.analytics.subscriber` (primary keys and indexes).
Each change calls a plain function the CLI could call (`operator_move`, `forget`) and
writes its audit entry in the same transaction. The audit log names the subscriber by id
only: forgetting must not leave the address behind in the log. A bounced or complained
address gets no status form: its way out is the lift on the suppressions page.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from newsletter.accounts.audit import Audited, record
from newsletter.accounts.roles import Action
from newsletter.accounts.sessions import Signed
from newsletter.analytics.subscriber import sent_issues, votes_of
from newsletter.core.errors import InvalidInput
from newsletter.web.admin.auth import Reader, actor, may
from newsletter.web.admin.forms import Confirm, confirmed
from newsletter.web.admin.presenter import DeskPagesDep
from newsletter.web.deps import RowId, ServicesDep, SessionDep, WriteSessionDep
from newsletter.web.params import NoControls
from subscribers.addresses import EMAIL_MAX
from subscribers.errors import SubscriberNotFound
from subscribers.models import SUPPRESSED, Source, Status
from subscribers.service import forget, get_subscriber, lookup_key, status_history
from subscribers.suppression import operator_move

router = APIRouter(default_response_class=HTMLResponse)

PAGE: Final = "/admin/subscribers/{subscriber_id}"
Why = Annotated[str, Form(max_length=500), NoControls]
"""A reason typed on the desk (control characters refused, as everywhere at the edge)."""


@router.get(PAGE)
def subscriber_page(
    who: Reader,
    pages: DeskPagesDep,
    services: ServicesDep,
    session: SessionDep,
    subscriber_id: RowId,
) -> HTMLResponse:
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber is None:
        raise SubscriberNotFound(f"no subscriber #{subscriber_id} (it may have been forgotten)")
    return pages.render(
        "subscriber.html",
        subscriber=subscriber,
        history=status_history(session, subscriber_id),
        sent=sent_issues(session, subscriber_id),
        votes=votes_of(session, subscriber_id),
        tracking=services.settings.tracking == "on",
        statuses=[s.value for s in Status if s.value != subscriber.status],
        suppressed=subscriber.status in SUPPRESSED,
    )


@router.post(f"{PAGE}/status")
def change_status(
    session: WriteSessionDep,
    who: Annotated[Signed, Depends(may(Action.SUBSCRIBER_STATUS))],
    subscriber_id: RowId,
    status: Annotated[str, Form(max_length=20), NoControls] = "",
    reason: Why = "",
    confirm: Confirm = "",
) -> Response:
    """A plain status change with a reason (`operator_move`): a bounced or complained
    address is refused (its way out is the lift), the same status changes nothing."""
    confirmed(confirm)
    try:
        target = Status(status)
    except ValueError:
        raise InvalidInput(f"status: one of {', '.join(s.value for s in Status)}") from None
    moved = operator_move(session, subscriber_id, target, reason=reason, source=Source.DESK)
    if moved is not None:
        detail = f"{moved.was.value} -> {moved.now.value}: {' '.join(reason.split())}"
        target_name = f"subscriber #{subscriber_id}"
        record(session, actor(who), Audited.SUBSCRIBER_STATUS, target_name, detail)
    return RedirectResponse(PAGE.format(subscriber_id=subscriber_id), status_code=303)


@router.post(f"{PAGE}/forget")
def forget_subscriber(
    session: WriteSessionDep,
    pages: DeskPagesDep,
    who: Annotated[Signed, Depends(may(Action.SUBSCRIBER_FORGET))],
    subscriber_id: RowId,
    address: Annotated[str, Form(max_length=EMAIL_MAX), NoControls] = "",
    confirm: Confirm = "",
) -> Response:
    """GDPR erasure, confirmed by typing the address: anything else changes nothing."""
    confirmed(confirm)
    subscriber = get_subscriber(session, subscriber_id, lock=True)
    if subscriber is None:
        raise SubscriberNotFound(f"no subscriber #{subscriber_id} (it may have been forgotten)")
    if not address.strip() or lookup_key(address) != subscriber.email:
        raise InvalidInput("the address typed is not this subscriber's: nothing was forgotten")
    forget(session, subscriber.email)
    record(session, actor(who), Audited.SUBSCRIBER_FORGET, f"subscriber #{subscriber_id}", "erased")
    return pages.message(
        "Forgotten",
        f"Subscriber #{subscriber_id} was erased with their history and activity; a hash "
        "of the address keeps an import or an operator from bringing it back.",
    )
