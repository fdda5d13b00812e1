"""The burst that follows a send: votes, one-click unsubscribes and sign-ups from many
clients at once, against `newsletter serve --workers N` in its own processes.

    .venv/bin/python -m benchmarks.web --database-url postgresql+psycopg://… [--workers 2]
        [--clients 200] [--seconds 30] [--subscribers 60000] [--rate 250]

Builds the newest week's issue from content/ (three comparisons) in a fresh database (a
schema of --database-url, or a SQLite file without it), adds `--subscribers` active
subscribers, starts the real server (`newsletter serve`, the rate limits of the sign-up
form off: a burst from one loopback address is what is measured, not the limiter), and
drives it from `--clients` concurrent clients for `--seconds`: each client in turn casts a
vote (POST /vote/<recipient token>/<comparison>/<tool>), unsubscribes (POST
/unsubscribe/<recipient token>, RFC 8058's one-click) or signs up (POST /subscribe), each
vote and unsubscribe for a subscriber of its own, and a tenth of them posted a second time
(a reader's double click, a retry). With `--rate`, readers arrive at that pace instead,
whatever the answers, at most `--clients` at once (an open loop: a closed loop of 200
clients that never pause keeps 200 requests in the server, so by Little's law its mean
answer takes 200 / throughput seconds). Prints requests per second, the median, p99 and
slowest answer by kind, every status that was not 200, and then checks the database:
every vote stored once (one row per subscriber and comparison, as many as the distinct
votes answered 200) and every unsubscribe once (one history row each).

Not a test: a measurement to compare before and after a change.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import Engine, text
from sqlmodel import col, select

from benchmarks.databases import fresh_database
from benchmarks.events import free_port, process_cpu
from benchmarks.send import build
from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.core.settings import Settings
from newsletter.links.tokens import Signer
from newsletter.publishing.models import ComparisonTool, IssueComparison

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-web-secret-" + "x" * 32
SITE = "https://verdicts.example.com"


@dataclass
class Plan:
    """What the clients may do: the issue, its ballots, the subscribers' tokens."""

    issue_id: int
    ballots: list[tuple[int, int]]  # (comparison id, tool id)
    tokens: list[str]  # the recipient token of subscriber i + 1 for this issue


@dataclass
class Tally:
    times: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    votes: set[tuple[int, int]] = field(
        default_factory=set
    )  # (subscriber, comparison) answered 200
    unsubscribed: set[int] = field(default_factory=set)


def settings_for(url: str, folder: Path) -> Settings:
    return Settings(
        database_url=url,
        content_dir=PROJECT_ROOT / "content",
        templates_dir=PROJECT_ROOT / "templates",
        secret_key=SECRET,
        site_url=SITE,
        outbox_dir=folder / "outbox",
        comparisons_per_issue=3,
        _env_file=None,  # type: ignore[call-arg]
    )


def prepare(engine: Engine, settings: Settings, subscribers: int) -> Plan:
    """The newest week's issue and `subscribers` active subscribers, each with a token."""
    issue_id = build(settings).id
    assert issue_id is not None
    with session_scope(engine) as session:
        rows = session.exec(
            select(ComparisonTool.comparison_id, ComparisonTool.tool_id)
            .join(
                IssueComparison,
                col(IssueComparison.comparison_id) == col(ComparisonTool.comparison_id),
            )
            .where(IssueComparison.issue_id == issue_id)
        ).all()
    ballots = [(int(c), int(t)) for c, t in rows]
    with engine.begin() as connection:
        step = 10_000
        for start in range(1, subscribers + 1, step):
            connection.execute(
                text(
                    "INSERT INTO subscriber (email, status, source, created_at,"
                    " status_changed_at, confirmed_at) VALUES (:email, 'active', 'import',"
                    " :now, :now, :now)"
                ),
                [
                    {"email": f"reader{i}@example.com", "now": "2026-11-01 00:00:00"}
                    for i in range(start, min(start + step, subscribers + 1))
                ],
            )
        first = connection.execute(text("SELECT min(id) FROM subscriber")).scalar_one()
    signer = Signer(settings.secret())
    tokens = [signer.recipient_token(first + i, issue_id) for i in range(subscribers)]
    return Plan(issue_id, ballots, tokens)


@contextmanager
def server(url: str, folder: Path, workers: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    empty = folder / "empty.env"
    empty.write_text("")
    env = {
        **os.environ,
        "NEWSLETTER_ENV_FILE": str(empty),
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_SECRET_KEY": SECRET,
        "NEWSLETTER_SITE_URL": SITE,
        "NEWSLETTER_OUTBOX_DIR": str(folder / "outbox"),
        "NEWSLETTER_SIGNUP_LIMIT_PER_CLIENT": "",
        "NEWSLETTER_SIGNUP_LIMIT_TOTAL": "",
        "NEWSLETTER_SIGNUP_QUEUE_MAX": "1000000",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "newsletter"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server stopped: see {folder / 'server.log'}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer within 120 s")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def drive(
    base: str, plan: Plan, clients: int, seconds: float, seed: int, rate: float | None = None
) -> Tally:
    """Closed loop (`rate` None): `clients` readers, each acting again as soon as answered.
    Open loop: a reader arrives every 1/`rate` s whatever the answers, at most `clients` at
    once, and each answer's time counts from the reader's arrival (a reader who waits for a
    free client waits in the figures too)."""
    tally = Tally()
    people = itertools.count()
    signups = itertools.count()
    rng = random.Random(seed)
    stop = time.monotonic() + seconds

    async def one(
        client: aiohttp.ClientSession,
        kind: str,
        url: str,
        data: dict[str, str],
        since: float | None = None,
    ) -> int:
        started = time.perf_counter() if since is None else since
        try:
            async with client.post(url, data=data) as answer:
                await answer.read()
                code = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            tally.failures[f"{kind}: {type(exc).__name__}"] += 1
            return 0
        tally.times[kind].append(time.perf_counter() - started)
        tally.statuses[(kind, code)] += 1
        return code

    async def reader(client: aiohttp.ClientSession, person: int, since: float | None) -> None:
        """One reader's turn: a vote, an unsubscribe or a sign-up, a tenth posted twice."""
        token = plan.tokens[person]
        subscriber = person + 1
        roll = rng.random()
        if roll < 0.6:
            comparison, tool = rng.choice(plan.ballots)
            url = f"{base}/vote/{token}/{comparison}/{tool}"
            if await one(client, "vote", url, {}, since) == 200:
                tally.votes.add((subscriber, comparison))
            if rng.random() < 0.1:
                await one(client, "vote", url, {})
        elif roll < 0.9:
            url = f"{base}/unsubscribe/{token}"
            data = {"List-Unsubscribe": "One-Click"}
            if await one(client, "unsubscribe", url, data, since) == 200:
                tally.unsubscribed.add(subscriber)
            if rng.random() < 0.1:
                await one(client, "unsubscribe", url, data)
        else:
            email = f"new{next(signups)}-{seed}@example.org"
            await one(client, "subscribe", f"{base}/subscribe", {"email": email}, since)

    async def client_loop(client: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop:
            person = next(people)
            if person >= len(plan.tokens):
                return  # every subscriber has had their turn
            await reader(client, person, None)

    async def arrivals(client: aiohttp.ClientSession, rate: float) -> None:
        free = asyncio.Semaphore(clients)
        running: set[asyncio.Task[None]] = set()

        async def arrive(person: int, since: float) -> None:
            async with free:
                await reader(client, person, since)

        started = time.monotonic()
        for person in range(len(plan.tokens)):
            due = started + person / rate
            if due >= stop:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            since = time.perf_counter() - max(0.0, time.monotonic() - due)
            task = asyncio.create_task(arrive(person, since))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running)

    # aiohttp rather than httpx: with 200 connections in one pool, httpx's client spent
    # about 11 ms of CPU a request (2 ms with a client per connection) against aiohttp's
    # 0.13 ms, and on a 2-core machine the client's CPU is taken from the server measured.
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        if rate is None:
            await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        else:
            await arrivals(client, rate)
    return tally


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and of its children (uvicorn's supervisor and workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return process_cpu(pid) + sum(process_cpu(int(child)) for child in children)


def check(engine: Engine, plan: Plan, tally: Tally, first_id: int) -> list[str]:
    """What the database holds against what was answered: the faults found."""
    faults = []
    with engine.connect() as connection:
        votes = connection.execute(
            text("SELECT subscriber_id, comparison_id, count(*) FROM vote GROUP BY 1, 2")
        ).all()
        twice = [row for row in votes if row[2] != 1]
        stored = {(int(s) - first_id + 1, int(c)) for s, c, _ in votes}
        if twice:
            faults.append(f"{len(twice)} votes stored more than once")
        if stored != tally.votes:
            faults.append(
                f"votes answered 200: {len(tally.votes)}, stored: {len(stored)}, "
                f"differing: {len(stored ^ tally.votes)}"
            )
        rows = connection.execute(
            text(
                "SELECT subscriber_id, count(*) FROM status_change"
                " WHERE to_status = 'unsubscribed' GROUP BY 1"
            )
        ).all()
        twice = [row for row in rows if row[1] != 1]
        if twice:
            faults.append(f"{len(twice)} unsubscribes recorded more than once")
        done = {int(s) - first_id + 1 for s, _ in rows}
        if done != tally.unsubscribed:
            faults.append(
                f"unsubscribes answered 200: {len(tally.unsubscribed)}, recorded: {len(done)}"
            )
    return faults


def report(tally: Tally, seconds: float) -> None:
    total = sum(len(t) for t in tally.times.values())
    print(f"{total:,} answers in {seconds:.1f} s: {total / seconds:,.0f} requests/s")
    every = sorted(t for times in tally.times.values() for t in times)
    for kind, times in [*sorted(tally.times.items()), ("all", every)]:
        ordered = sorted(times)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"  {kind:12} {len(ordered):7,}  median {statistics.median(ordered) * 1000:6.1f} ms"
            f"  p99 {p99 * 1000:6.1f} ms  slowest {ordered[-1] * 1000:7.1f} ms"
        )
    odd = {key: n for key, n in tally.statuses.items() if key[1] != 200}
    print(
        f"  answers other than 200: {odd or 'none'};"
        f" failed requests: {dict(tally.failures) or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--subscribers", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="readers arriving per second, whatever the answers (open loop); without it each "
        "client acts again as soon as answered (closed loop)",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="web-bench-") as tmp,
        fresh_database(args.database_url, Path(tmp), "web") as url,
    ):
        folder = Path(tmp)
        settings = settings_for(url, folder)
        engine = make_engine(url)
        try:
            upgrade(engine)
            plan = prepare(engine, settings, args.subscribers)
            with engine.connect() as connection:
                first_id = int(
                    connection.execute(text("SELECT min(id) FROM subscriber")).scalar_one()
                )
            print(
                f"issue {plan.issue_id}: {len(plan.ballots)} ballots, {len(plan.tokens):,} "
                f"subscribers; {args.clients} clients"
                + (f" (readers arriving at {args.rate:g}/s)" if args.rate else "")
                + f" for {args.seconds:.0f} s against "
                f"`serve --workers {args.workers}` ({engine.dialect.name}); load average "
                + " ".join(f"{x:.2f}" for x in os.getloadavg())
            )
            with server(url, folder, args.workers) as (base, pid):
                started, cpu, mine = time.perf_counter(), tree_cpu(pid), time.process_time()
                tally = asyncio.run(
                    drive(base, plan, args.clients, args.seconds, args.seed, args.rate)
                )
                seconds = time.perf_counter() - started
                cpu, mine = tree_cpu(pid) - cpu, time.process_time() - mine
            report(tally, seconds)
            answers = sum(len(t) for t in tally.times.values())
            print(
                f"  CPU a request: server {cpu / answers * 1000:.2f} ms (its {args.workers} "
                f"workers: {cpu / seconds:.0%} of one core), this client "
                f"{mine / answers * 1000:.2f} ms; load average at the end "
                + " ".join(f"{x:.2f}" for x in os.getloadavg())
            )
            faults = check(engine, plan, tally, first_id)
            print("stored once: " + ("; ".join(faults) if faults else "every vote and unsubscribe"))
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
