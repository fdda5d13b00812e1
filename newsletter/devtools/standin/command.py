"""``python -m newsletter.devtools.standin``: a stand-in in its own process (tests, the
benchmark). The base URL is the first line on stdout, so a parent process can read it;
Ctrl-C (SIGINT) stops it with status 0."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Final, cast

from newsletter.devtools.standin.records import RecordMode
from newsletter.devtools.standin.stand_in import StandIn

DESCRIPTION: Final = (
    "A local stand-in for SendGrid's v3 Mail Send endpoint (``POST /v3/mail/send``)."
)


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
    args = parser.parse_args(argv)
    standin = StandIn(
        args.api_keys or ("test-key",), record=cast(RecordMode, args.record), verbose=args.verbose
    )
    standin.serve_forever(args.host, args.port, ready=lambda url: print(url, flush=True))
    return 0
