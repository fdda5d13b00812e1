"""`newsletter demo` and `newsletter dev …`: the development tools, the only door into
`newsletter.devtools`."""

from __future__ import annotations

import shlex
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.table import Table

from newsletter.cli.console import console
from newsletter.core.database import get_engine
from newsletter.core.errors import InvalidInput
from newsletter.core.settings import get_settings
from newsletter.devtools.demo import check_settings, run_demo
from newsletter.devtools.standin import EventShares, StandIn
from newsletter.devtools.standin.command import PUBLIC_KEY_VARIABLE


def demo() -> None:
    """Run the main job on the embedded defaults: load content/, add demo subscribers, build
    the issue of the newest comparisons' week and write it to the outbox. Safe to re-run."""
    settings = get_settings()
    check_settings(settings)  # before the database: production refuses the demo, not the schema
    result = run_demo(get_engine(), settings, settings.preview_dir)
    console.print(
        f"content: {len(result.load.created)} new, {len(result.load.updated)} updated, "
        f"{len(result.load.unchanged)} unchanged comparisons"
    )
    console.print(f"subscribers: {result.subscribers_added} demo subscriber(s) added")
    state = "built" if result.created else "already built"
    console.print(f"issue #{result.issue_number} for {result.week}: {state}")
    table = Table("what", "where", box=None)
    for kind, path in result.files.items():
        table.add_row(kind, str(path))
    table.add_row("outbox", f"{settings.outbox_dir} ({len(result.outbox)} .eml files)")
    console.print(table)
    if result.outbox:
        console.print(f"open one: {result.outbox[0]}")


_EVENTS = "Event webhook (with --events-to)"
DEFAULT_SHARES = EventShares()


def dev_sendgrid(
    port: Annotated[int, typer.Option(help="Port to listen on (127.0.0.1).")] = 3030,
    key: Annotated[
        str | None,
        typer.Option(help="API key it accepts (default: SENDGRID_API_KEY, else dev-key)."),
    ] = None,
    events_to: Annotated[
        str | None,
        typer.Option(
            help="Post signed events about what it accepts to this URL, as SendGrid does "
            "(e.g. http://127.0.0.1:8000/webhooks/sendgrid).",
            rich_help_panel=_EVENTS,
        ),
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option(help="Makes the events' shares reproducible.", rich_help_panel=_EVENTS),
    ] = None,
    hard_bounces: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of recipients hard-bounced.", rich_help_panel=_EVENTS
        ),
    ] = DEFAULT_SHARES.hard_bounces,
    soft_bounces: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share blocked (soft bounce).", rich_help_panel=_EVENTS
        ),
    ] = DEFAULT_SHARES.soft_bounces,
    drops: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share dropped (Bounced Address).", rich_help_panel=_EVENTS
        ),
    ] = DEFAULT_SHARES.drops,
    processed_only: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share with no outcome after processed.", rich_help_panel=_EVENTS
        ),
    ] = DEFAULT_SHARES.processed_only,
    deferrals: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share deferred 1-3 times first.", rich_help_panel=_EVENTS
        ),
    ] = DEFAULT_SHARES.deferrals,
    spam_reports: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of delivered marked as spam.", rich_help_panel=_EVENTS
        ),
    ] = DEFAULT_SHARES.spam_reports,
    opens: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of delivered opened.", rich_help_panel=_EVENTS),
    ] = DEFAULT_SHARES.opens,
    machine_opens: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of opens by a machine.", rich_help_panel=_EVENTS
        ),
    ] = DEFAULT_SHARES.machine_opens,
    clicks: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of opens with a click.", rich_help_panel=_EVENTS
        ),
    ] = DEFAULT_SHARES.clicks,
    duplicates: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of events posted twice.", rich_help_panel=_EVENTS
        ),
    ] = DEFAULT_SHARES.duplicates,
) -> None:
    """Run a local SendGrid stand-in in the foreground (Ctrl-C stops it).

    It validates mail/send requests as SendGrid does, records what was accepted
    (GET /_standin/accepted) and can inject faults (POST /_standin/faults). With
    --events-to it posts SendGrid's signed events about what it accepted (GET
    /_standin/events: the counts) and prints the public key to check them with.
    Example: [bold]newsletter dev sendgrid --port 3030 --events-to
    http://127.0.0.1:8000/webhooks/sendgrid --hard-bounces 0.02 --seed 1[/]
    """
    configured = get_settings().sendgrid_api_key
    api_key = key or configured or "dev-key"
    try:
        shares = EventShares(
            hard_bounces=hard_bounces,
            soft_bounces=soft_bounces,
            drops=drops,
            processed_only=processed_only,
            deferrals=deferrals,
            spam_reports=spam_reports,
            opens=opens,
            machine_opens=machine_opens,
            clicks=clicks,
            duplicates=duplicates,
        )
        standin = StandIn(
            api_keys=[api_key], verbose=True, events_to=events_to, event_shares=shares, seed=seed
        )
    except ValueError as exc:
        raise InvalidInput(f"newsletter dev sendgrid: {exc}") from None

    def ready(url: str) -> None:
        shown = None if api_key == configured else api_key
        console.print(f"SendGrid stand-in at {url} (Ctrl-C stops it).")
        if shown is None:  # never echoed: it may well be a real SendGrid key
            console.print(
                "It takes the SENDGRID_API_KEY already configured, which is not shown. The "
                "other terminal must have SENDGRID_API_KEY too. The project's .env gives it "
                "to every terminal; a key exported only in this shell must be exported there."
            )
        console.print("To send through it, paste these lines into another terminal:")
        lines = paste_lines(url, shown)
        # soft_wrap: Rich must not break a line at the terminal's width, or the pasted
        # halves would be two commands and the second would run without the first's part.
        console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
        if standin.events is not None:
            console.print(
                f"Events about what it accepts go to {standin.events.url}, signed. To receive "
                "them, paste these lines into the terminal that runs the web service:"
            )
            serve = serve_lines(url, shown, standin.events.public_key, standin.events.url)
            console.print("\n".join(serve), markup=False, highlight=False, soft_wrap=True)

    standin.serve_forever("127.0.0.1", port, ready=ready)


def paste_lines(url: str, api_key: str | None) -> list[str]:
    """Shell lines that point this terminal's later commands at the stand-in: one `export`
    per variable, then the command. Each line stands alone, so a terminal that folds a
    long one on screen, a paste of only some lines, or one run line by line all work, and
    a later `newsletter issue send` in the same shell keeps going to the stand-in. An API
    key that is already configured (SENDGRID_API_KEY) is not echoed to the screen.

    Loopback goes past any proxy in both spellings of the variable: urllib (under the
    sendgrid client) reads `no_proxy` over `NO_PROXY` when both exist. The lowercase line
    comes first and keeps the hosts of both, so a shell that only had `NO_PROXY` keeps them
    for urllib too."""
    variables = {
        "NEWSLETTER_BACKEND": "sendgrid",
        "NEWSLETTER_SENDGRID_HOST": url,
        "SENDGRID_API_KEY": api_key,
    }
    exports = [f"export {name}={shlex.quote(v)}" for name, v in variables.items() if v]
    # Loopback past any proxy, keeping the hosts the shell already lists (POSIX expansion).
    exports.append("export no_proxy=127.0.0.1${NO_PROXY:+,$NO_PROXY}${no_proxy:+,$no_proxy}")
    exports.append("export NO_PROXY=127.0.0.1${NO_PROXY:+,$NO_PROXY}")
    return [*exports, "newsletter issue send"]


def serve_lines(url: str, api_key: str | None, public_key: str, events_to: str) -> list[str]:
    """The lines for the web service's terminal: the same backend (its sign-up emails go
    through the stand-in too), the key the stand-in signs its events with, and `newsletter
    serve` on the port the events are posted to."""
    exports = paste_lines(url, api_key)[:-1]
    exports.append(f"export {PUBLIC_KEY_VARIABLE}={shlex.quote(public_key)}")
    parts = urlsplit(events_to)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return [*exports, f"newsletter serve --port {port}"]


def register(root_app: typer.Typer) -> None:
    """`demo` at the root, the stand-in under `dev`."""
    root_app.command("demo")(demo)
    dev_app = typer.Typer(help="Tools for development.", no_args_is_help=True)
    dev_app.command("sendgrid")(dev_sendgrid)
    root_app.add_typer(dev_app, name="dev")
