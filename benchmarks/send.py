"""How fast a whole list is sent through the SendGrid backend, and what that costs in memory.

    .venv/bin/python -m benchmarks.send --subscribers 1000000

Creates N active subscribers (bulk insert) in a fresh SQLite database (or the schema of
--database-url), builds a three-comparison issue from content/, starts the SendGrid
stand-in as a separate process (record="count": it validates every request and keeps
counters only), then:

1. measures the stand-in's own ceiling: requests of the same size, built once, posted from
   the same number of threads with no ledger and no building;
2. sends the issue with `send_issue` (ledger, tokens, request bodies, the real `sendgrid`
   package) and reports recipients per second, wall time and peak RSS during the send.

With `--latency-ms N` the stand-in answers each request N ms late (its `slow` fault, set
as the default for every request), as SendGrid does from afar; the yardstick is then what
the concurrency allows at that latency, concurrency x batch size x 1,000 / N recipients a
second, and the stand-in's own ceiling is not measured.

--concurrency and --build-processes default to the settings' defaults, so a run without
them measures what an operator gets without tuning.

Not a test: a measurement to compare before and after a change.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlmodel import col, insert, select

from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.core.settings import PROJECT_ROOT, Settings
from newsletter.delivery import PersonalizedBatch
from newsletter.delivery.providers.sendgrid import SendGridBackend
from newsletter.delivery.providers.sendgrid.encoding import encode_request
from newsletter.links.personalize import Personalizer, vote_slots
from newsletter.links.tokens import Signer
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue
from newsletter.publishing.models import Comparison, Issue
from newsletter.publishing.weeks import week_of
from newsletter.sending import SendProgress, send_issue
from newsletter.sending.message import batch_message, issue_message
from subscribers.models import Subscriber

KEY = "bench-key"
INSERT_CHUNK = 50_000


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (or its peak, VmHWM) in MB, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children_peak_mb() -> float:
    """Peak RSS of this process's live children but the stand-in (the build processes)."""
    total = 0.0
    me = os.getpid()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if (
            int(fields.get("PPid", "0").strip()) == me
            and b"newsletter.devtools.standin" not in cmdline
        ):
            total += int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
    return total


def reset_peak_rss() -> bool:
    """Start VmHWM afresh (Linux: "5" > clear_refs), so the peak is the send's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def add_subscribers(settings: Settings, count: int) -> float:
    engine = make_engine(settings.database_url)
    started = time.perf_counter()
    for start in range(0, count, INSERT_CHUNK):
        rows = [
            {"email": f"reader{i:08d}@example.com", "name": None, "status": "active"}
            for i in range(start, min(count, start + INSERT_CHUNK))
        ]
        with session_scope(engine) as session:
            session.exec(insert(Subscriber), params=rows)
    engine.dispose()
    return time.perf_counter() - started


def settle_list(url: str) -> None:
    """On PostgreSQL, VACUUM ANALYZE the new list, as autovacuum does to a real one long
    before its send: otherwise the send's first read of each row sets its hint bits
    (writing every page) and the planner, with no statistics, sorts a million ids on disk.
    """
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE subscriber"
                )
    finally:
        engine.dispose()


def build(settings: Settings) -> Issue:
    """The issue of the newest week in content/, with three comparisons (as `make demo`)."""
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        load_content(session, settings.content_dir)
    with session_scope(engine) as session:
        newest = session.exec(select(Comparison).order_by(col(Comparison.published).desc())).first()
        assert newest is not None
        issue = build_issue(session, week_of(newest.published), settings).issue
    engine.dispose()
    return issue


class StandInProcess:
    """`python -m newsletter.devtools.standin --record count` on a free port, in its own process (so
    it has its own interpreter lock, as SendGrid is another machine)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "newsletter.devtools.standin",
                "--port",
                "0",
                "--record",
                "count",
                "--api-key",
                KEY,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def control(self, method: str, route: str) -> Any:
        request = urllib.request.Request(f"{self.url}/_standin/{route}", method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def slow_down(self, seconds: float) -> None:
        """Every request answered `seconds` late from now on (until a reset)."""
        spec = json.dumps({"fault": "slow", "seconds": seconds, "default": True}).encode()
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}/_standin/faults",
            data=spec,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def ceiling(
    standin: StandInProcess, body: bytes, personalizations: int, requests: int, threads: int
) -> float:
    """Recipients per second the stand-in takes with nothing else to do."""
    host, port = standin.url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    def post(_: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.request("POST", "/v3/mail/send", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 202, response.status
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(requests)))
    return requests * personalizations / (time.perf_counter() - started)


def sample_body(settings: Settings, issue: Issue, size: int) -> bytes:
    """A request exactly like the send's first batch, for `size` of the subscribers: laid
    out by the same path (`encode_request` on a `PersonalizedBatch`, one token per
    recipient), so the ceiling is measured on bodies of the send's own size."""
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        personalizer = Personalizer(issue, vote_slots(issue), settings, Signer(settings.secret()))
        rows = session.exec(
            select(Subscriber.id, Subscriber.email, Subscriber.name)
            .order_by(col(Subscriber.id))
            .limit(size)
        ).all()
    engine.dispose()
    batch = PersonalizedBatch(personalizer, [(sid or 0, email, name) for sid, email, name in rows])
    message = batch_message(issue_message(issue, settings), issue, 1)
    return encode_request(message, batch).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--concurrency", type=int, default=None, help="NEWSLETTER_SEND_CONCURRENCY's default"
    )
    parser.add_argument(
        "--build-processes",
        type=int,
        default=None,
        help="NEWSLETTER_SEND_BUILD_PROCESSES (default: unset, i.e. one on 2+ cores)",
    )
    parser.add_argument("--ceiling-requests", type=int, default=200)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="the stand-in answers each request this late (SendGrid-like: 300)",
    )
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the send here")
    args = parser.parse_args(argv)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

    with tempfile.TemporaryDirectory(prefix="send-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(
            database_url=url,
            content_dir=PROJECT_ROOT / "content",
            secret_key="benchmark-secret-" + "x" * 32,
            site_url="https://verdicts.example.com",
            comparisons_per_issue=3,
            batch_size=args.batch_size,
            send_build_processes=args.build_processes,
            sendgrid_api_key=KEY,
            sendgrid_timeout=60,
            _env_file=None,  # type: ignore[call-arg]
        )
        if args.concurrency is not None:
            settings.send_concurrency = args.concurrency
        concurrency = settings.send_concurrency
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        inserted = add_subscribers(settings, args.subscribers)
        settle_list(url)
        issue = build(settings)
        print(
            f"setup: {args.subscribers:,} subscribers inserted in {inserted:.1f} s; issue "
            f"#{issue.number} ({issue.week}), {len(issue.html.encode()):,} bytes of HTML"
        )

        standin = StandInProcess()
        try:
            body = sample_body(settings, issue, min(args.batch_size, args.subscribers))
            per_request = min(args.batch_size, args.subscribers)
            measured = not args.latency_ms
            if measured:
                before = ceiling(standin, body, per_request, args.ceiling_requests, concurrency)
            standin.control("POST", "reset")
            if args.latency_ms:
                standin.slow_down(args.latency_ms / 1000)

            peak_is_send_only = reset_peak_rss()
            peak = [rss_mb()]
            first_batch: list[float] = []
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.05):
                    peak[0] = max(peak[0], rss_mb())

            def progress(_: SendProgress) -> None:
                if not first_batch:
                    first_batch.append(time.perf_counter())

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            settings.sendgrid_host = standin.url
            backend = SendGridBackend.from_settings(settings)
            engine = make_engine(url)
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            started = time.perf_counter()
            report = send_issue(engine, issue.number, settings, backend, on_progress=progress)
            wall = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            done.set()
            sampler.join()
            peak_mb = max(peak[0], rss_mb("VmHWM")) if peak_is_send_only else peak[0]
            children = _children_peak_mb()
            backend.close()
            stats = standin.control("GET", "stats")
            # The ceiling drifts from run to run on a shared machine: measured before and
            # after the send, the mean is the yardstick.
            if measured:
                after = ceiling(standin, body, per_request, args.ceiling_requests, concurrency)
                ceiling_rate = (before + after) / 2
        finally:
            standin.stop()

    if measured:
        print(
            f"stand-in ceiling: {ceiling_rate:,.0f} recipients/s (mean of {before:,.0f} before "
            f"and {after:,.0f} after the send; {args.ceiling_requests} pre-built requests of "
            f"{len(body):,} bytes from {concurrency} threads, no ledger, no building)"
        )
    else:
        ceiling_rate = concurrency * per_request * 1000 / args.latency_ms
        print(
            f"latency {args.latency_ms:.0f} ms a request: {concurrency} requests in flight of "
            f"{per_request:,} recipients allow {ceiling_rate:,.0f} recipients/s"
        )
    rate = report.accepted / wall
    snapshot = (first_batch[0] - started) if first_batch else float("nan")
    print(
        f"send: {report.accepted:,} recipients accepted ({report.status}) in {wall:.1f} s "
        f"= {rate:,.0f} recipients/s; first batch done after {snapshot:.1f} s (snapshot)"
    )
    print(
        f"peak RSS during the send: {peak_mb:,.0f} MB"
        + (f" (+ {children:,.0f} MB in build processes)" if children else "")
    )
    yardstick = "the stand-in's ceiling" if measured else "concurrency x 1,000 / latency"
    print(f"against {yardstick}: {rate / ceiling_rate:.0%}")
    assert stats["accepted_personalizations"] == args.subscribers, stats
    assert report.accepted == args.subscribers
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
