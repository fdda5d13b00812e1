"""`newsletter subscribers …`: the operators' commands for the list."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The subscriber list: add, import, export, search, forget.", no_args_is_help=True
)
