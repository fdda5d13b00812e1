"""``python -m newsletter.devtools.standin``: a stand-in in its own process (tests, the
benchmark). The base URL is the first line on stdout, so a parent process can read it;
with ``--events-to`` the second line is ``SENDGRID_WEBHOOK_PUBLIC_KEY=<key>``. Ctrl-C
(SIGINT) stops it with status 0."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import fields
from typing import Final, cast

from newsletter.devtools.standin.events import EventShares
from newsletter.devtools.standin.records import RecordMode
from newsletter.devtools.standin.stand_in import StandIn
from newsletter.devtools.standin.webhook_poster import PosterSettings

DESCRIPTION: Final = (
    "A local stand-in for SendGrid's v3 Mail Send endpoint (``POST /v3/mail/send``)."
)
PUBLIC_KEY_VARIABLE: Final = "SENDGRID_WEBHOOK_PUBLIC_KEY"


def option(name: str) -> str:
    """A field's command-line spelling: hard_bounces -> --hard-bounces."""
    return "--" + name.replace("_", "-")


def add_event_arguments(parser: argparse.ArgumentParser) -> None:
    """--events-to, --seed, --batch-size and one option per share of `EventShares`."""
    group = parser.add_argument_group("event webhook")
    group.add_argument("--events-to", metavar="URL", help="post signed events to this URL")
    group.add_argument("--seed", help="makes the events' shares reproducible")
    group.add_argument("--batch-size", type=int, default=PosterSettings().batch_size)
    for item in fields(EventShares):
        group.add_argument(option(item.name), type=float, default=item.default, metavar="SHARE")


def event_options(args: argparse.Namespace) -> tuple[EventShares, PosterSettings]:
    """The shares and the poster's settings the parsed options ask for (ValueError if bad)."""
    shares = EventShares(**{item.name: getattr(args, item.name) for item in fields(EventShares)})
    return shares, PosterSettings(batch_size=args.batch_size)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a stand-in until Ctrl-C; prints its base URL on the first stdout line."""
    parser = argparse.ArgumentParser(
        prog="python -m newsletter.devtools.standin", description=DESCRIPTION
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", action="append", dest="api_keys")
    parser.add_argument("--record", choices=("full", "count"), default="full")
    parser.add_argument("--verbose", action="store_true")
    add_event_arguments(parser)
    args = parser.parse_args(argv)
    try:
        shares, poster = event_options(args)
        standin = StandIn(
            args.api_keys or ("test-key",),
            record=cast(RecordMode, args.record),
            verbose=args.verbose,
            events_to=args.events_to,
            event_shares=shares,
            seed=args.seed,
            poster=poster,
        )
    except ValueError as exc:
        parser.error(str(exc))

    def ready(url: str) -> None:
        print(url, flush=True)
        if standin.events is not None:
            print(f"{PUBLIC_KEY_VARIABLE}={standin.events.public_key}", flush=True)

    standin.serve_forever(args.host, args.port, ready=ready)
    return 0
