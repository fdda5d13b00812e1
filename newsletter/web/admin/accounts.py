"""The team's accounts on the desk (admins only): the list, and forms to add an account,
change a role, disable or enable one, and set a new password. Each form posts to a route
that checks the confirmation and calls one function of `accounts.team` (the same ones
`newsletter users` calls), which records the change in the audit log."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from newsletter.accounts.passwords import PASSWORD_MAX, typed_twice
from newsletter.accounts.roles import Action, Role
from newsletter.accounts.sessions import Signed
from newsletter.accounts.team import (
    add_account,
    disable_account,
    enable_account,
    list_accounts,
    reset_password,
    role_of,
    set_role,
)
from newsletter.web.admin.auth import actor, may
from newsletter.web.admin.forms import Confirm, confirmed
from newsletter.web.admin.presenter import DeskPagesDep
from newsletter.web.deps import SessionDep, WriteSessionDep

router = APIRouter(default_response_class=HTMLResponse)

PAGE: Final = "/admin/accounts"

Manager = Annotated[Signed, Depends(may(Action.ACCOUNT_MANAGE))]
Email = Annotated[str, Form(max_length=1000)]
RoleField = Annotated[str, Form(max_length=20)]
Password = Annotated[str, Form(max_length=PASSWORD_MAX * 4)]


class Done(StrEnum):
    """What the page says after a change (Post/Redirect/Get: a reload posts nothing)."""

    ADDED = "added"
    ROLE = "role"
    DISABLED = "disabled"
    ENABLED = "enabled"
    PASSWORD = "password"  # noqa: S105 — the name of a change, not a password


def _back(done: Done) -> RedirectResponse:
    return RedirectResponse(f"{PAGE}?done={done.value}", status_code=303)


@router.get(PAGE)
def accounts_page(
    who: Manager, pages: DeskPagesDep, session: SessionDep, done: Done | None = None
) -> HTMLResponse:
    accounts = list_accounts(session)
    return pages.render("accounts.html", accounts=accounts, roles=list(Role), done=done)


@router.post(PAGE)
def account_add(
    who: Manager,
    session: WriteSessionDep,
    email: Email = "",
    role: RoleField = "",
    password: Password = "",
    password_again: Password = "",
    confirm: Confirm = "",
) -> RedirectResponse:
    confirmed(confirm)
    add_account(session, email, role_of(role), typed_twice(password, password_again), actor(who))
    return _back(Done.ADDED)


@router.post(f"{PAGE}/role")
def account_role(
    who: Manager,
    session: WriteSessionDep,
    email: Email = "",
    role: RoleField = "",
    confirm: Confirm = "",
) -> RedirectResponse:
    confirmed(confirm)
    set_role(session, email, role_of(role), actor(who))
    return _back(Done.ROLE)


@router.post(f"{PAGE}/disable")
def account_disable(
    who: Manager, session: WriteSessionDep, email: Email = "", confirm: Confirm = ""
) -> RedirectResponse:
    confirmed(confirm)
    disable_account(session, email, actor(who))
    return _back(Done.DISABLED)


@router.post(f"{PAGE}/enable")
def account_enable(
    who: Manager, session: WriteSessionDep, email: Email = "", confirm: Confirm = ""
) -> RedirectResponse:
    confirmed(confirm)
    enable_account(session, email, actor(who))
    return _back(Done.ENABLED)


@router.post(f"{PAGE}/password")
def account_password(
    who: Manager,
    session: WriteSessionDep,
    email: Email = "",
    password: Password = "",
    password_again: Password = "",
    confirm: Confirm = "",
) -> RedirectResponse:
    confirmed(confirm)
    reset_password(session, email, typed_twice(password, password_again), actor(who))
    return _back(Done.PASSWORD)
