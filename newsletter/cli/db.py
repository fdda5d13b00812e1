"""`newsletter db …`: the database schema. In production `db upgrade` is the deploy step
that migrates; every other command refuses a database whose revision is not the code's."""

from __future__ import annotations

import typer

from newsletter.cli.console import console
from newsletter.core.database import SchemaOutOfDate, make_engine, schema_state, upgrade
from newsletter.core.settings import get_settings

app = typer.Typer(help="The database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations, under a lock (the deploy step; in development every
    command also does this on first use).

    Example: [bold]newsletter db upgrade[/]
    """
    engine = make_engine(get_settings().database_url)
    try:
        changed = upgrade(engine)
    finally:
        engine.dispose()
    console.print("schema upgraded to the newest revision" if changed else "schema is up to date")


@app.command("status")
def db_status() -> None:
    """The database's schema revision beside the code's; exits 1 unless they match.

    Example: [bold]newsletter db status[/]
    """
    engine = make_engine(get_settings().database_url)
    try:
        state = schema_state(engine)
    finally:
        engine.dispose()
    console.print(f"database revision: {state.database or 'none'}")
    console.print(f"code revision:     {state.code}")
    problem = state.problem()
    if problem is not None:
        raise SchemaOutOfDate(problem)
    console.print("schema is up to date")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
