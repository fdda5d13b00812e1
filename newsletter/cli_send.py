"""`newsletter issue send|status|test-send`: delivering an issue."""

from __future__ import annotations

import typer


def register(issue_app: typer.Typer, root_app: typer.Typer) -> None:
    """Add the sending commands to the `issue` group (and `dev` tools to the root)."""
