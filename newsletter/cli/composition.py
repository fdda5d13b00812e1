"""`newsletter issue add|remove|move`: the editor decides what a draft issue holds.

Each command changes the draft and re-renders it in one transaction, then shows what the
issue holds now and its subject, so the editor sees the result without another command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli.console import console, problem
from newsletter.core.database import session_scope
from newsletter.core.settings import get_settings
from newsletter.publishing.composition import (
    Composition,
    add_comparison,
    move_comparison,
    remove_comparison,
)

NumberArgument = Annotated[int, typer.Argument(help="Issue number (a draft).")]
SlugArgument = Annotated[str, typer.Argument(help="The comparison's slug (its file name).")]


def _show(result: Composition, done: str) -> None:
    console.print(f"issue #{result.number} ({result.week}): {done}", markup=False)
    for held in result.held:
        console.print(f"  {held.position}. {held.slug}  {held.title}", markup=False)
    console.print(f"  subject: {result.subject}", markup=False)
    if result.over_limit:
        problem(
            f"warning: issue #{result.number} holds {len(result.held)} comparisons, more than "
            f"NEWSLETTER_COMPARISONS_PER_ISSUE ({result.limit}); "
            f"`newsletter issue check {result.number}` tells whether it still fits an inbox"
        )


def issue_add(
    number: NumberArgument,
    slug: SlugArgument,
    position: Annotated[
        int | None, typer.Option(help="Its place in the email, from 1 (default: last).")
    ] = None,
) -> None:
    """Add a comparison to a draft issue and re-render it: any comparison that is loaded,
    not withdrawn and in no other issue, whatever its date.

    Example: [bold]newsletter issue add 3 code-llama-4-vs-mistral-large-3 --position 1[/]
    """
    settings = get_settings()
    with session_scope(immediate=True) as session:
        result = add_comparison(session, number, slug, settings, position)
    _show(result, f"added {slug}; re-rendered" if result.changed else f"already holds {slug}")


def issue_remove(number: NumberArgument, slug: SlugArgument) -> None:
    """Take a comparison out of a draft issue (it is free for another issue) and re-render it.

    Example: [bold]newsletter issue remove 3 code-llama-4-vs-mistral-large-3[/]
    """
    settings = get_settings()
    with session_scope(immediate=True) as session:
        result = remove_comparison(session, number, slug, settings)
    _show(result, f"removed {slug}; re-rendered")


def issue_move(
    number: NumberArgument,
    slug: SlugArgument,
    position: Annotated[int, typer.Argument(help="Its new place in the email, from 1.")],
) -> None:
    """Move a comparison of a draft issue to another place and re-render it.

    Example: [bold]newsletter issue move 3 code-llama-4-vs-mistral-large-3 1[/]
    """
    settings = get_settings()
    with session_scope(immediate=True) as session:
        result = move_comparison(session, number, slug, position, settings)
    if result.changed:
        _show(result, f"moved {slug} to {position}; re-rendered")
    else:
        _show(result, f"{slug} is already at {position}")


def register(issue_group: typer.Typer) -> None:
    """Add these commands to the `issue` group."""
    for name, command in (("add", issue_add), ("remove", issue_remove), ("move", issue_move)):
        issue_group.command(name)(command)
