"""`newsletter users …` as an operator runs it: the password read from standard input or
asked twice at a terminal, never taken as an argument; the first admin on a fresh
database; every error one `error:` line with exit status 1 (both databases)."""

from __future__ import annotations

import os
import pty
import re
import select as io_select
import sys
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select
from typer.testing import CliRunner

from newsletter.accounts.models import Account, AccountSession, AuditEntry
from newsletter.cli.main import app
from newsletter.core.database import make_engine, session_scope
from newsletter.core.settings import Settings
from tests.newsletter.accounts.helpers import sign_in_directly

runner = CliRunner()
PASSWORD = "correct horse battery"
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
NEWSLETTER = Path(sys.executable).with_name("newsletter")


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["users", *args], input=input)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def one_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


def accounts(engine: Engine) -> dict[str, tuple[str, bool]]:
    with session_scope(engine) as session:
        rows = session.exec(select(Account)).all()
        return {a.email: (a.role, a.disabled_at is not None) for a in rows}


def test_the_first_admin_on_a_fresh_database(env: Settings, database_url: str) -> None:
    """Nothing made beforehand: the command brings the schema up to date itself."""
    assert run("list") == (0, "no accounts yet: `newsletter users add EMAIL --role admin`\n")
    code, out = run("add", "Ada@Team.example", "--role", "admin", input=PASSWORD + "\n")
    assert (code, out) == (0, "added ada@team.example as admin\n")
    engine = make_engine(database_url)
    assert accounts(engine) == {"ada@team.example": ("admin", False)}
    with session_scope(engine) as session:
        hashed = session.exec(select(Account.password_hash)).one()
        entry = session.exec(select(AuditEntry)).one()
    assert hashed.startswith("$argon2id$")
    assert (entry.actor, entry.action, entry.target) == (
        "command line",
        "account add",
        "ada@team.example",
    )
    code, out = run("list")
    assert code == 0
    assert "ada@team.example" in out
    assert "admin" in out
    assert "active" in out
    engine.dispose()


def test_the_life_of_an_account(env: Settings, engine: Engine) -> None:
    run("add", "ada@team.example", "--role", "admin", input=PASSWORD + "\n")
    assert run("add", "eve@team.example", input=PASSWORD + "\n")[0] == 0  # a viewer
    sign_in_directly(engine, "eve@team.example")
    assert run("set-role", "EVE@team.example", "--role", "editor") == (
        0,
        "eve@team.example is now editor\n",
    )
    assert run("disable", "eve@team.example") == (0, "eve@team.example is disabled\n")
    assert "disabled" in run("list")[1]
    assert run("enable", "eve@team.example") == (0, "eve@team.example is enabled\n")
    sign_in_directly(engine, "eve@team.example")
    assert run("reset-password", "eve@team.example", input="a new long password\n") == (
        0,
        "new password set for eve@team.example\n",
    )
    assert accounts(engine)["eve@team.example"] == ("editor", False)
    with session_scope(engine) as session:
        assert session.exec(select(AccountSession)).all() == []  # each change signed eve out
        actions = session.exec(select(AuditEntry.action).order_by(col(AuditEntry.id))).all()
    assert actions == [
        "account add",
        "account add",
        "account role",
        "account disable",
        "account enable",
        "account password",
    ]


def test_errors_are_one_line_and_exit_1(env: Settings, engine: Engine) -> None:
    run("add", "ada@team.example", "--role", "admin", input=PASSWORD + "\n")
    cases = [
        (
            ("add", "ada@team.example"),
            PASSWORD + "\n",
            "error: ada@team.example already has an account",
        ),
        (("add", "bob@team.example"), "short\n", "error: password: at least 12 characters, please"),
        (("add", "bob@team.example"), "", "error: password: standard input is empty"),
        (("add", "bob@team.example"), "\n", "error: password: standard input is empty"),
        (
            ("add", "bob@", "--role", "viewer"),
            PASSWORD + "\n",
            "error: email: 'bob@' is not an email",
        ),
        (
            ("add", "bob@team.example", "--role", "owner"),
            PASSWORD + "\n",
            "error: role: 'owner' is not one of",
        ),
        (
            ("set-role", "nobody@team.example", "--role", "viewer"),
            None,
            "error: no account for nobody@team.example",
        ),
        (
            ("set-role", "ada@team.example", "--role", "viewer"),
            None,
            "error: ada@team.example is the last active admin",
        ),
        (("disable", "ada@team.example"), None, "error: ada@team.example is the last active admin"),
        (("enable", "nobody@team.example"), None, "error: no account for nobody@team.example"),
        (("reset-password", "ada@team.example"), "short\n", "error: password: at least 12"),
    ]
    for args, given, expected in cases:
        code, out = run(*args, input=given)
        assert code == 1, (args, out)
        assert one_error(out).startswith(expected), (args, out)
    assert accounts(engine) == {"ada@team.example": ("admin", False)}


def test_a_password_is_never_an_argument(env: Settings, engine: Engine) -> None:
    code, _ = run("add", "ada@team.example", "--password", PASSWORD)
    assert code == 2  # click's usage error: no such option
    code, _ = run("add", "ada@team.example", PASSWORD, input=PASSWORD + "\n")
    assert code == 2
    assert accounts(engine) == {}
    for command in ("add", "reset-password"):
        assert "password" not in run(command, "--help")[1].split("Options")[1].split("--help")[0]


def _at_a_terminal(args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run the real command with a terminal of its own (so it prompts, and hides what is
    typed), answering each prompt in turn; (exit status, what the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover — the child becomes the command
        os.execv(str(NEWSLETTER), [str(NEWSLETTER), *args])  # noqa: S606 — no shell wanted
    shown = b""
    pending = list(answers)
    while True:
        ready, _, _ = io_select.select([fd], [], [], 30)
        assert ready, shown
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child ended: the terminal is gone
            break
        if not chunk:
            break
        shown += chunk
        # click writes "Password:", then getpass turns echo off and writes " ": answer then
        if pending and shown.endswith(b": "):
            os.write(fd, pending.pop(0).encode() + b"\n")
            shown += b"\n"
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), COLOUR.sub("", shown.decode(errors="replace"))


def test_at_a_terminal_the_password_is_asked_twice_and_hidden(
    env: Settings, engine: Engine
) -> None:
    code, shown = _at_a_terminal(
        ["users", "add", "ada@team.example", "--role", "admin"], [PASSWORD, PASSWORD + "x"]
    )
    assert code == 1, shown
    assert "Password again:" in shown
    assert "error: password: the two entries differ; nothing was changed" in shown
    assert PASSWORD not in shown  # never echoed
    assert accounts(engine) == {}
    code, shown = _at_a_terminal(
        ["users", "add", "ada@team.example", "--role", "admin"], [PASSWORD, PASSWORD]
    )
    assert code == 0, shown
    assert "added ada@team.example as admin" in shown
    assert accounts(engine) == {"ada@team.example": ("admin", False)}
