"""`newsletter db …`: the database schema."""

from __future__ import annotations

import typer

from newsletter.cli.console import console
from newsletter.core.database import make_engine, upgrade
from newsletter.core.settings import get_settings

app = typer.Typer(help="The database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (every command also does this on first use)."""
    changed = upgrade(make_engine(get_settings().database_url))
    console.print("schema upgraded to the newest revision" if changed else "schema is up to date")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
