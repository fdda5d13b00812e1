"""`StandIn`: one running stand-in, its lifetime (a thread for tests, the foreground for the
CLI), and the one object tests talk to. The work is elsewhere: validation, the fault
script, the recorder and the HTTP server each have a module of their own."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from newsletter.devtools.standin.event_feed import EventFeed
from newsletter.devtools.standin.events import EventShares
from newsletter.devtools.standin.faults import FaultScript
from newsletter.devtools.standin.records import (
    Accepted,
    AcceptedPersonalization,
    Recorder,
    RecordMode,
    Stats,
)
from newsletter.devtools.standin.server import Handler, Server
from newsletter.devtools.standin.signing import WebhookSigner
from newsletter.devtools.standin.webhook_poster import PosterSettings


class StandIn:
    """A SendGrid mail/send stand-in: records what was accepted, injects faults, and with
    `events_to` posts signed webhook events about it (`self.events`, see `EventFeed`),
    signed with `signer` when given (its public key can then be handed to the receiver
    before the receiver's URL is known), else with a key pair of its own.

    Thread-safe: the server handles each connection in its own thread and the
    test (or the control routes) may inspect or script it at any time.
    """

    def __init__(
        self,
        api_keys: Iterable[str] = ("test-key",),
        record: RecordMode = "full",
        *,
        verbose: bool = False,
        events_to: str | None = None,
        event_shares: EventShares | None = None,
        seed: int | str | None = None,
        poster: PosterSettings | None = None,
        signer: WebhookSigner | None = None,
    ) -> None:
        self.recorder = Recorder(record)
        self.events: EventFeed | None = None
        if events_to is not None:
            self.events = EventFeed(
                events_to,
                event_shares,
                seed=seed,
                poster=poster,
                keep=record == "full",
                log=self.log,
                signer=signer,
            )
        self.script = FaultScript()
        self.api_keys: frozenset[str] = frozenset(api_keys)
        self.verbose = verbose
        self._stopping = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def record(self) -> RecordMode:
        """Whether every accepted request is kept ("full") or only counted ("count")."""
        return self.recorder.mode

    # -- lifetime

    @property
    def url(self) -> str:
        """Base URL to give ``SendGridAPIClient(host=...)``."""
        if self._url is None:
            raise RuntimeError("the stand-in is not running")
        return self._url

    def _bind(self, host: str, port: int) -> Server:
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        self._stopping.clear()
        server = Server((host, port), Handler, self)
        bound_host, bound_port = server.server_address[:2]
        shown = bound_host if isinstance(bound_host, str) else bound_host.decode()
        if ":" in shown:
            shown = f"[{shown}]"
        self._server, self._url = server, f"http://{shown}:{bound_port}"
        if self.events is not None:
            self.events.start()
        return server

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a daemon thread (for tests); return the base URL."""
        server = self._bind(host, port)
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits up to one interval
            name="sendgrid-standin",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving; in-flight ``slow`` faults are cut short."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        if thread is not None:
            server.shutdown()
            thread.join(timeout=5)
        server.server_close()
        if self.events is not None:
            self.events.stop()
        self._server = self._thread = self._url = None

    def serve_forever(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        ready: Callable[[str], None] | None = None,
    ) -> None:
        """Serve in the calling thread (for the CLI) until Ctrl-C; ``ready`` gets the URL."""
        server = self._bind(host, port)
        if ready is not None:
            ready(self.url)
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._stopping.set()
            server.server_close()
            if self.events is not None:
                self.events.stop()
            self._server = self._url = None

    def __enter__(self) -> StandIn:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sleep(self, seconds: float) -> None:
        """Wait (a ``slow`` fault), cut short when the stand-in stops."""
        self._stopping.wait(seconds)

    def log(self, line: str) -> None:
        """One line to stderr when verbose (the CLI); silent in tests."""
        if self.verbose:
            stamp = datetime.now().strftime("%H:%M:%S")
            print(f"[standin {stamp}] {line}", file=sys.stderr, flush=True)

    # -- faults (see `FaultScript`)

    def inject(self, fault: str, count: int = 1, **params: Any) -> None:
        """Apply ``fault`` to the next ``count`` mail/send requests (after earlier ones)."""
        self.script.inject(fault, count, **params)

    def set_default_fault(self, fault: str | None, **params: Any) -> None:
        """Apply ``fault`` to every request once the queue is empty (None: behave)."""
        self.script.set_default(fault, **params)

    def clear_faults(self) -> None:
        """Forget queued faults and the default mode."""
        self.script.clear()

    def faults(self) -> dict[str, Any]:
        """The queued faults and the default mode, as JSON-able data."""
        return self.script.as_json()

    # -- records (see `Recorder`)

    def reset(self) -> None:
        """Back to as-new: records, counters, faults and events made are cleared."""
        self.recorder.reset()
        self.script.clear()
        if self.events is not None:
            self.events.reset()

    @property
    def requests(self) -> list[Accepted]:
        """Every accepted request, oldest first (a snapshot)."""
        return self.recorder.requests

    def recipients(self) -> list[str]:
        """Every accepted ``to`` address, one entry per acceptance (duplicates show)."""
        return self.recorder.recipients()

    def deliveries_for(self, email: str) -> list[tuple[Accepted, AcceptedPersonalization]]:
        """Each (request, personalization) that accepted ``email`` as a ``to``."""
        return self.recorder.deliveries_for(email)

    def rendered_for(self, email: str) -> list[tuple[str, str]]:
        """(text, html) after substitutions, once per time ``email`` was accepted."""
        return self.recorder.rendered_for(email)

    def subjects_for(self, email: str) -> list[str | None]:
        """The subject after substitutions, once per time ``email`` was accepted."""
        return self.recorder.subjects_for(email)

    def stats(self) -> Stats:
        """A snapshot of the counters."""
        return self.recorder.stats()

    def summary(self, *, content: bool = False) -> dict[str, Any]:
        """What ``GET /_standin/accepted`` answers: recipients and per-request data."""
        return self.recorder.summary(content=content)
