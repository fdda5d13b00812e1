"""The sign-up form under load: what its answer costs for each kind of address, whether a
slow email provider slows the rest of the site, and how fast the queue drains.

    .venv/bin/python -m benchmarks.signup [--rounds 200] [--posts 80] [--latency 2]
    .venv/bin/python -m benchmarks.signup --database-url postgresql+psycopg://…

Runs the real app under uvicorn on a loopback port (its lifespan, so its sign-up
dispatcher, included), with the rate limits off, and prints:

1. the median and 90th-percentile answer to POST /subscribe for a new, an active and a
   bounced address, posted in turn (`--rounds` of each);
2. GET / while `--posts` posts arrive at once and every confirmation takes `--latency`
   seconds at the provider (the outbox behind a sleep);
3. how many queued requests per second one process drains with the outbox.

Not a test: a measurement to compare before and after a change (on a tree without the
queue, part 3 is skipped).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine

from benchmarks.databases import fresh_database
from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.core.settings import Settings
from newsletter.delivery import Message, Recipient
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.web.app import create_app
from subscribers.models import Source, Status
from subscribers.service import add_subscriber
from subscribers.status import change_status


class SlowOutbox(OutboxBackend):
    """The outbox behind a provider that takes `latency` seconds per request."""

    def __init__(self, folder: Path, latency: float) -> None:
        super().__init__(folder)
        self.latency = latency

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        time.sleep(self.latency)
        return super().send_batch(message, recipients)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def settings_for(database_url: str, folder: Path) -> Settings:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        outbox_dir=folder / "outbox",
        secret_key="benchmark-" + "k" * 40,
    )
    for name in ("signup_limit_per_client", "signup_limit_total"):
        if name in Settings.model_fields:
            setattr(settings, name, "")
    return settings


def answer_times(settings: Settings, engine: Engine, rounds: int) -> None:
    with session_scope(engine) as session:
        add_subscriber(session, "active@example.com", source=Source.CLI, confirmed=True)
        bounced = add_subscriber(session, "bounced@example.com", source=Source.CLI, confirmed=True)
        change_status(session, bounced, Status.BOUNCED, reason="benchmark", source=Source.CLI)
    kinds = ["new", "active", "bounced"]
    took: dict[str, list[float]] = {kind: [] for kind in kinds}
    with serving(create_app(settings, engine)) as base, httpx.Client(base_url=base) as client:
        client.post("/subscribe", data={"email": "warm-up@example.com"})
        for n in range(rounds):
            for kind in kinds[n % 3 :] + kinds[: n % 3]:
                address = f"new{n}@example.com" if kind == "new" else f"{kind}@example.com"
                started = time.perf_counter()
                client.post("/subscribe", data={"email": address})
                took[kind].append(time.perf_counter() - started)
    print(f"1. POST /subscribe, {rounds} of each kind in turn:")
    for kind, values in took.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"   {kind:8} median {ms(statistics.median(values))}, 90th percentile {ms(p90)}")


def slow_provider(settings: Settings, engine: Engine, posts: int, latency: float) -> None:
    app = create_app(settings, engine, backend=SlowOutbox(settings.outbox_dir, latency))
    home: list[float] = []
    with (
        serving(app) as base,
        httpx.Client(base_url=base, timeout=600) as client,
        ThreadPoolExecutor(max_workers=posts) as pool,
    ):

        def post(n: int) -> float:
            started = time.perf_counter()
            client.post("/subscribe", data={"email": f"slow{n}@example.com"})
            return time.perf_counter() - started

        answers = [pool.submit(post, n) for n in range(posts)]
        until = time.monotonic() + max(3.0, 2 * latency)
        while time.monotonic() < until:
            started = time.perf_counter()
            client.get("/")
            home.append(time.perf_counter() - started)
            time.sleep(0.05)
        posted = [a.result() for a in answers]
        print(f"2. {posts} posts at once, the provider taking {latency:g} s per email:")
        print(f"   POST answers: median {ms(statistics.median(posted))}, max {ms(max(posted))}")
        print(
            f"   GET / meanwhile ({len(home)} requests): "
            f"median {ms(statistics.median(home))}, max {ms(max(home))}"
        )
        print("   (stopping: the dispatcher finishes the email in hand, the rest stay queued)")


def drain_rate(settings: Settings, engine: Engine, rows: int) -> None:
    try:
        from newsletter.sending.signup_queue import drain_signups, queue_signup
    except ImportError:
        print("3. no sign-up queue in this tree: skipped")
        return
    with session_scope(engine, immediate=True) as session:
        for n in range(rows):
            queue_signup(session, f"q{n}@example.com", name=None, ip=None, max_queued=rows + 1)
    backend = OutboxBackend(settings.outbox_dir)
    started = time.perf_counter()
    handled = drain_signups(engine, settings, backend)
    wall = time.perf_counter() - started
    rate = handled / wall
    print(f"3. one process drained {handled} queued sign-ups in {wall:.1f} s: {rate:.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--posts", type=int, default=80)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--drain", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    for part in ("answers", "slow", "drain"):
        with (
            tempfile.TemporaryDirectory() as tmp,
            fresh_database(args.database_url, Path(tmp), "signup") as url,
        ):
            settings = settings_for(url, Path(tmp))
            engine = make_engine(url)
            upgrade(engine)
            try:
                if part == "answers":
                    answer_times(settings, engine, args.rounds)
                elif part == "slow":
                    slow_provider(settings, engine, args.posts, args.latency)
                else:
                    drain_rate(settings, engine, args.drain)
            finally:
                engine.dispose()


if __name__ == "__main__":
    main()
