"""How fast delivery events are applied, and what that costs in memory.

    .venv/bin/python -m benchmarks.events --direct [--recipients 100000]
    .venv/bin/python -m benchmarks.events --http [--recipients 100000] [--connections 4]
    … --database-url postgresql+psycopg://…   (a schema of its own, dropped afterwards)

Creates N active subscribers in a fresh database (SQLite by default), sends an issue to
them through the ledger (snapshot, claim and outcome for every batch, as a send records
them, with no provider behind it; a few batches left `unknown` for events to settle), then
makes a day's events for it: processed and delivered for everyone, some deferrals before
delivery, 1% hard and 1% soft bounces, 0.05% spam reports, opens (some by machines), clicks
(some on the service's own vote links, which never count) and unsubscribes; shuffled a
little, as SendGrid batches them, and with 2% of the POSTs posted twice (its retries).

`--direct` calls `newsletter.tracking.ingest` with each 1,000-event POST (one transaction
each) and reports events per second and the peak RSS of the applying. `--http` measures
the server as SendGrid meets it: `newsletter serve` runs in a process of its own (its
settings from the environment, the public key of a `WebhookSigner`), every body is built
and signed before the clock starts, and the POSTs go out over a few concurrent connections
(SendGrid posts concurrently); it reports events per second (signature checked, parsed,
deduplicated, applied), the server's RSS after a quarter, half and all of the POSTs (flat
memory: no growth with the number of events), and checks that every event was stored
exactly once.

Not a test: a measurement to compare before and after a change.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlmodel import insert

from benchmarks.databases import fresh_database
from benchmarks.send import reset_peak_rss, rss_mb
from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.core.settings import Settings
from newsletter.delivery.events import BounceKind, DeliveryEvent, EventType
from newsletter.delivery.message import BATCH_ARG, ISSUE_ARG, SUBSCRIBER_ARG
from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import STARTABLE, IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending.ledger import (
    BatchState,
    claim_batch,
    new_owner,
    record_outcome,
    snapshot_audience,
)
from newsletter.tracking import Applied, ingest
from subscribers.models import Subscriber

NUMBER = 1
SITE = "https://news.example.com"
POST_SIZE = 1000
BATCH_SIZE = 1000
INSERT_CHUNK = 50_000
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

SENDGRID_NAMES = {
    EventType.PROCESSED: "processed",
    EventType.DEFERRED: "deferred",
    EventType.DELIVERED: "delivered",
    EventType.BOUNCED: "bounce",
    EventType.OPENED: "open",
    EventType.CLICKED: "click",
    EventType.COMPLAINED: "spamreport",
    EventType.UNSUBSCRIBED: "unsubscribe",
}


def settings_for(database_url: str, folder: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        outbox_dir=folder / "outbox",
        secret_key="benchmark-" + "k" * 40,
        site_url=SITE,
        postal_address="1 Benchmark Street",
    )


def address(subscriber_id: int) -> str:
    """Subscriber `subscriber_id`'s address: an event is matched only if it is about it."""
    return f"reader{subscriber_id:08d}@example.com"


def sent_issue(engine: Engine, recipients: int, unknown_every: int = 25) -> dict[int, int]:
    """Subscribers and an issue sent to them through the ledger; subscriber id -> batch."""
    for start in range(0, recipients, INSERT_CHUNK):
        rows = [
            {"id": i, "email": address(i), "name": None, "status": "active"}
            for i in range(start + 1, min(recipients, start + INSERT_CHUNK) + 1)
        ]
        with session_scope(engine) as session:
            session.exec(insert(Subscriber), params=rows)
    with session_scope(engine, immediate=True) as session:
        issue = Issue(number=NUMBER, week="2026-W49", status=IssueStatus.APPROVED, subject="1")
        session.add(issue)
        session.flush()
        issue_id = issue.id or 0
        lifecycle.move(session, issue_id, STARTABLE, IssueStatus.SENDING)
        snapshot_audience(session, issue_id, BATCH_SIZE)
    owner = new_owner()
    while True:
        with session_scope(engine, immediate=True) as session:
            claimed = claim_batch(session, issue_id, owner, now=time.time(), lease=60, max_tries=5)
            if claimed is None:
                break
            state = BatchState.UNKNOWN if claimed.seq % unknown_every == 0 else BatchState.ACCEPTED
            record_outcome(session, issue_id, claimed.seq, owner, state, message_id="m")
    with session_scope(engine) as session:
        found = session.connection().execute(
            text("SELECT subscriber_id, batch_seq FROM send_recipient WHERE issue_id = :i"),
            {"i": issue_id},
        )
        return {int(s): int(b) for s, b in found}


def make_events(batch_of: dict[int, int], seed: int = 12) -> list[DeliveryEvent]:
    """A day's events for the issue, in roughly the order SendGrid reports them."""
    rng = random.Random(seed)
    timed: list[tuple[float, DeliveryEvent]] = []

    def add(kind: EventType, sid: int, at: float, **fields: Any) -> None:
        timed.append(
            (
                at,
                DeliveryEvent(
                    provider="sendgrid",
                    event_id=secrets.token_urlsafe(16),  # random, as SendGrid's are
                    type=kind,
                    occurred_at=T0 + timedelta(seconds=at),
                    email=address(sid),
                    issue_number=NUMBER,
                    subscriber_id=sid,
                    batch_seq=batch_of[sid],
                    provider_type=SENDGRID_NAMES[kind],
                    **fields,
                ),
            )
        )

    for sid in batch_of:
        at = rng.random() * 600
        add(EventType.PROCESSED, sid, at)
        luck = rng.random()
        if luck < 0.01:
            add(EventType.BOUNCED, sid, at + 5, bounce_kind=BounceKind.HARD, reason="550 5.1.1")
            continue
        if luck < 0.02:
            add(EventType.BOUNCED, sid, at + 5, bounce_kind=BounceKind.SOFT, reason="452 full")
            continue
        if luck < 0.07:
            add(EventType.DEFERRED, sid, at + 3, reason="421 try later")
            at += 300
        add(EventType.DELIVERED, sid, at + 6)
        if rng.random() < 0.45:
            add(EventType.OPENED, sid, at + 600 + rng.random() * 3600, machine_open=luck > 0.8)
            if rng.random() < 0.3:
                url = f"https://tool{rng.randrange(6)}.example.com/"
                if rng.random() < 0.3:
                    url = f"{SITE}/vote/token{sid}"
                add(EventType.CLICKED, sid, at + 4000 + rng.random() * 3600, url=url)
        if rng.random() < 0.0005:
            add(EventType.COMPLAINED, sid, at + 9000)
        elif rng.random() < 0.002:
            add(EventType.UNSUBSCRIBED, sid, at + 9000)
    timed.sort(key=lambda item: item[0] + rng.random() * 30)  # a little out of order
    return [item[1] for item in timed]


def posts(events: list[DeliveryEvent], seed: int = 13) -> list[list[DeliveryEvent]]:
    """The POSTs SendGrid would make: 1,000 events each, 2% of them posted twice."""
    rng = random.Random(seed)
    chunks = [events[i : i + POST_SIZE] for i in range(0, len(events), POST_SIZE)]
    out: list[list[DeliveryEvent]] = []
    for chunk in chunks:
        out.append(chunk)
        if rng.random() < 0.02:
            out.append(chunk)
    return out


def report(label: str, applied: list[Applied], seconds: float, peak: float) -> None:
    received = sum(a.received for a in applied)
    stored = sum(a.stored for a in applied)
    print(
        f"{label}: {received} events in {len(applied) or '?'} POSTs, {seconds:.2f} s: "
        f"{received / seconds:,.0f} events/s; stored {stored}, duplicates "
        f"{sum(a.duplicates for a in applied)}, settled {sum(a.settled for a in applied)}, "
        f"suppressed {sum(len(a.suppressed) for a in applied)}; peak RSS {peak:.0f} MB"
    )


def direct(settings: Settings, engine: Engine, batches: list[list[DeliveryEvent]]) -> None:
    reset_peak_rss()
    started, cpu, times = time.perf_counter(), time.process_time(), os.times()
    applied = [ingest(engine, settings, batch) for batch in batches]
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    user, system = os.times().user - times.user, os.times().system - times.system
    report("direct", applied, seconds, rss_mb("VmHWM"))
    print(
        f"        CPU time of this process {cpu:.2f} s ({cpu / seconds:.0%} of the wall time;"
        f" user {user:.2f} s, system {system:.2f} s)"
    )


def sendgrid_json(event: DeliveryEvent) -> dict[str, Any]:
    """An event as SendGrid posts it, custom args as top-level keys."""
    body: dict[str, Any] = {
        "email": event.email,
        "timestamp": int(event.occurred_at.timestamp()),
        "event": event.provider_type,
        "sg_event_id": event.event_id,
        "sg_message_id": f"m.{event.subscriber_id}",
        ISSUE_ARG: str(event.issue_number),
        SUBSCRIBER_ARG: str(event.subscriber_id),
        BATCH_ARG: str(event.batch_seq),
    }
    if event.type == EventType.BOUNCED:
        body["type"] = "bounce" if event.bounce_kind == BounceKind.HARD else "blocked"
        body["reason"] = event.reason
    if event.type == EventType.CLICKED:
        body["url"] = event.url
    if event.type == EventType.OPENED:
        body["sg_machine_open"] = event.machine_open
    if event.type == EventType.DEFERRED:
        body["response"] = event.reason
    return body


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(settings: Settings, public_key: str) -> dict[str, str]:
    """The environment `newsletter serve` reads its settings from."""
    return {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": settings.database_url,
        "NEWSLETTER_OUTBOX_DIR": str(settings.outbox_dir),
        "NEWSLETTER_SECRET_KEY": settings.secret_key,
        "NEWSLETTER_SITE_URL": settings.site_url,
        "NEWSLETTER_POSTAL_ADDRESS": settings.postal_address,
        "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


@contextmanager
def server_process(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """`newsletter serve` in a process of its own (its output in `log`): its URL and pid."""
    import httpx

    port = free_port()
    command = [str(Path(sys.executable).with_name("newsletter")), "serve", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                error = log.read_text(errors="replace").strip()[-500:]
                raise SystemExit(f"newsletter serve exited: {error}")
            try:
                httpx.get(url + "/webhooks/sendgrid", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("newsletter serve did not start within 60 s") from None
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def process_mb(pid: int, field: str = "VmRSS") -> float:
    """A field of another process's /proc status (kB) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds another process has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def over_http(
    settings: Settings, engine: Engine, batches: list[list[DeliveryEvent]], connections: int
) -> None:
    """POST every batch, pre-built and pre-signed, to `newsletter serve` running in its own
    process, over `connections` concurrent connections (SendGrid posts concurrently); the
    server's RSS after a quarter, half and all of the POSTs, and a check that every event
    was stored once."""
    import httpx

    from newsletter.devtools.standin.signing import WebhookSigner

    signer = WebhookSigner()
    bodies = [json.dumps([sendgrid_json(e) for e in batch]).encode() for batch in batches]
    requests = [
        (body, {"content-type": "application/json", **signer.headers(body)}) for body in bodies
    ]
    unique = len({e.event_id for batch in batches for e in batch})
    events = sum(len(b) for b in batches)
    marks = {len(requests) // 4: "25%", len(requests) // 2: "50%", len(requests): "100%"}
    rss: dict[str, float] = {}
    done = 0
    lock = threading.Lock()

    log = settings.outbox_dir.parent / "serve.log"
    with server_process(server_env(settings, signer.public_key), log) as (url, pid):
        rss["start"] = process_mb(pid)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        with httpx.Client(base_url=url, timeout=120, limits=limits) as client:

            def post(request: tuple[bytes, dict[str, str]]) -> dict[str, int]:
                nonlocal done
                answer = client.post("/webhooks/sendgrid", content=request[0], headers=request[1])
                if answer.status_code >= 300:
                    first = answer.text.strip().splitlines()[:1]
                    raise SystemExit(f"POST answered {answer.status_code}: {first}")
                with lock:
                    done += 1
                    if done in marks:
                        rss[marks[done]] = process_mb(pid)
                return dict(answer.json())

            started, cpu = time.perf_counter(), process_cpu(pid)
            with ThreadPoolExecutor(connections) as pool:
                answers = list(pool.map(post, requests))
            seconds, cpu = time.perf_counter() - started, process_cpu(pid) - cpu
        peak = process_mb(pid, "VmHWM")
    with session_scope(engine) as session:
        found = session.connection().execute(
            text("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM delivery_event")
        )
        count, distinct = (int(n) for n in found.one())
    stored = sum(a["stored"] for a in answers)
    duplicates = sum(a["duplicates"] for a in answers)
    print(
        f"http: {events} events in {len(bodies)} signed POSTs over {connections} connections, "
        f"{seconds:.2f} s: {events / seconds:,.0f} events/s; server CPU {cpu:.2f} s "
        f"({cpu / seconds:.0%} of one core)"
    )
    print(
        f"      server process RSS (MB): {', '.join(f'{k} {v:.0f}' for k, v in rss.items())};"
        f" peak {peak:.0f}"
    )
    print(
        f"      {unique} distinct events: {count} rows ({distinct} distinct ids), answers "
        f"said {stored} stored and {duplicates} duplicates"
    )
    if not count == distinct == stored == unique or stored + duplicates != events:
        raise SystemExit("not every event was stored exactly once")


def tune(engine: Engine, cache_mb: int) -> None:
    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
        cursor.close()

    event.listen(engine, "connect", on_connect)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--direct", action="store_true", help="call ingest (the default)")
    mode.add_argument(
        "--http", action="store_true", help="POST to `newsletter serve` in its own process"
    )
    parser.add_argument(
        "--connections", type=int, default=4, help="--http: concurrent POSTs (default 4)"
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--sqlite-cache-mb",
        type=int,
        default=0,
        help="direct mode, SQLite: a page cache of this size on the benchmark's connections "
        "(what such a setting in core would bring; it costs that much memory per connection)",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(args.database_url, Path(tmp), "events") as url,
    ):
        settings = settings_for(url, Path(tmp))
        engine = make_engine(url)
        if args.sqlite_cache_mb and engine.dialect.name == "sqlite":
            tune(engine, args.sqlite_cache_mb)
        upgrade(engine)
        try:
            started = time.perf_counter()
            batch_of = sent_issue(engine, args.recipients)
            batches = posts(make_events(batch_of))
            print(
                f"set-up: {len(batch_of)} recipients sent through the ledger, "
                f"{sum(len(b) for b in batches)} events made in "
                f"{time.perf_counter() - started:.1f} s (RSS {rss_mb():.0f} MB)"
            )
            if args.http:
                over_http(settings, engine, batches, args.connections)
            else:
                direct(settings, engine, batches)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
