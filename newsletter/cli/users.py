"""`newsletter users add|list|set-role|disable|enable|reset-password`: the team's accounts
on the desk (`newsletter serve`, under /admin).

A password is never an argument (it would sit in the shell's history and in `ps`): it is
asked twice at a terminal, or read as the first line of standard input when that is not a
terminal (`printf '%s\\n' "$PW" | newsletter users add ...`). What these commands change
is in the audit log under "command line".
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from newsletter.accounts.audit import COMMAND_LINE
from newsletter.accounts.passwords import checked, typed_twice
from newsletter.accounts.team import (
    add_account,
    disable_account,
    enable_account,
    list_accounts,
    reset_password,
    role_of,
    set_role,
)
from newsletter.cli.console import console, plain
from newsletter.core.database import session_scope
from newsletter.core.errors import InvalidInput

EmailArgument = Annotated[str, typer.Argument(help="The account's email address.")]
RoleOption = Annotated[
    str, typer.Option("--role", help="admin, editor or viewer (see README: the desk's roles).")
]


def _password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            raise InvalidInput("password: standard input is empty (give it on the first line)")
        return checked(line.rstrip("\r\n"))
    first: str = typer.prompt("Password", hide_input=True)
    checked(first)
    again: str = typer.prompt("Password again", hide_input=True)
    return typed_twice(first, again)


def users_add(email: EmailArgument, role: RoleOption = "viewer") -> None:
    """Add an account (the first admin of a fresh database too; there is no default one).

    Example: [bold]newsletter users add ada@example.com --role admin[/]
    """
    chosen = role_of(role)
    password = _password()
    with session_scope(immediate=True) as session:
        account = add_account(session, email, chosen, password, COMMAND_LINE)
        console.print(plain(f"added {account.email} as {account.role}"))


def users_list() -> None:
    """The accounts, their roles, and which are disabled."""
    with session_scope() as session:
        accounts = list_accounts(session)
        if not accounts:
            console.print("no accounts yet: `newsletter users add EMAIL --role admin`")
            return
        table = Table("email", "role", "created", "state")
        for account in accounts:
            state = f"disabled {account.disabled_at:%Y-%m-%d}" if account.disabled_at else "active"
            table.add_row(
                plain(account.email), account.role, f"{account.created_at:%Y-%m-%d}", state
            )
        console.print(table)


def users_set_role(email: EmailArgument, role: RoleOption) -> None:
    """Change an account's role; its open sessions end.

    Example: [bold]newsletter users set-role ada@example.com --role editor[/]
    """
    chosen = role_of(role)
    with session_scope(immediate=True) as session:
        account = set_role(session, email, chosen, COMMAND_LINE)
        console.print(plain(f"{account.email} is now {account.role}"))


def users_disable(email: EmailArgument) -> None:
    """Disable an account: it cannot sign in, and its open sessions end."""
    with session_scope(immediate=True) as session:
        account = disable_account(session, email, COMMAND_LINE)
        console.print(plain(f"{account.email} is disabled"))


def users_enable(email: EmailArgument) -> None:
    """Let a disabled account sign in again."""
    with session_scope(immediate=True) as session:
        account = enable_account(session, email, COMMAND_LINE)
        console.print(plain(f"{account.email} is enabled"))


def users_reset_password(email: EmailArgument) -> None:
    """Set a new password (asked, or read from standard input); open sessions end."""
    password = _password()
    with session_scope(immediate=True) as session:
        account = reset_password(session, email, password, COMMAND_LINE)
        console.print(plain(f"new password set for {account.email}"))


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The team's accounts on the web desk (/admin).", no_args_is_help=True)
    group.command("add")(users_add)
    group.command("list")(users_list)
    group.command("set-role")(users_set_role)
    group.command("disable")(users_disable)
    group.command("enable")(users_enable)
    group.command("reset-password")(users_reset_password)
    app.add_typer(group, name="users")
