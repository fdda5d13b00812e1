"""How fast `newsletter worker` processes send a detached send, one worker against two.

    .venv/bin/python -m benchmarks.workers \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test --subscribers 200000

For each number of workers (default: 1, then 2), in a fresh schema of that PostgreSQL
database: N active subscribers (bulk insert), a three-comparison issue from content/, the
SendGrid stand-in in a process of its own (record="count"), the workers started and
waiting; then the send is started detached (`send_issue(..., detach=True)`: the gate, the
move to `sending`, the audience snapshot) and the workers send it. Reported per round: the
snapshot's time, the sending time (from the snapshot to the issue's `sent`), recipients per
second, and the stand-in's ceiling at the same number of requests in flight (workers times
concurrency), measured just before the round.

Not a test: a measurement. On a machine with few cores the workers share them with the
stand-in and the database, so two workers show how the send scales, not a second machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import select

from benchmarks.databases import fresh_database
from benchmarks.send import (
    KEY,
    StandInProcess,
    add_subscribers,
    build,
    ceiling,
    sample_body,
)
from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.core.settings import PROJECT_ROOT, Settings
from newsletter.delivery.providers.sendgrid import SendGridBackend
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending import issue_status, send_issue

WORKER = [sys.executable, "-c", "from newsletter.cli.main import main; main()", "worker"]


@dataclass(frozen=True)
class Round:
    workers: int
    snapshot: float  # seconds the detached start took (the audience snapshot)
    sending: float  # seconds from then until the issue was `sent`
    accepted: int
    ceiling: float  # recipients/s the stand-in takes at the same requests in flight
    load: str

    @property
    def rate(self) -> float:
        return self.accepted / self.sending


def _settings(url: str, args: argparse.Namespace) -> Settings:
    return Settings(
        database_url=url,
        content_dir=PROJECT_ROOT / "content",
        secret_key="benchmark-secret-" + "x" * 32,
        site_url="https://verdicts.example.com",
        comparisons_per_issue=3,
        batch_size=args.batch_size,
        send_concurrency=args.concurrency,
        sendgrid_api_key=KEY,
        sendgrid_timeout=60,
        _env_file=None,  # type: ignore[call-arg]
    )


def _worker_environment(
    settings: Settings, standin: StandInProcess, env_file: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(
        NEWSLETTER_ENV_FILE=str(env_file),  # nobody's .env reaches the workers
        NEWSLETTER_DATABASE_URL=settings.database_url,
        NEWSLETTER_SECRET_KEY=settings.secret_key,
        NEWSLETTER_SITE_URL=settings.site_url,
        NEWSLETTER_BACKEND="sendgrid",
        NEWSLETTER_SENDGRID_HOST=standin.url,
        NEWSLETTER_SENDGRID_TIMEOUT="60",
        SENDGRID_API_KEY=KEY,
        NEWSLETTER_BATCH_SIZE=str(settings.batch_size),
        NEWSLETTER_SEND_CONCURRENCY=str(settings.send_concurrency),
        NEWSLETTER_WORKER_POLL="0.1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def _start_workers(count: int, env: dict[str, str], cwd: Path) -> list[subprocess.Popen[str]]:
    """`count` workers, returned once each is looking for sends."""
    started = [
        subprocess.Popen(WORKER, env=env, cwd=cwd, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    for process in started:
        assert process.stderr is not None
        for line in process.stderr:
            if "worker started" in line:
                break
        else:
            raise SystemExit(f"a worker ended before it started (exit {process.wait()})")
    return started


def _stop_workers(started: list[subprocess.Popen[str]]) -> None:
    for process in started:
        process.terminate()
    for process in started:
        _, err = process.communicate(timeout=120)
        if process.returncode != 0:
            print(err, file=sys.stderr)
            raise SystemExit(f"a worker exited {process.returncode}")


def _status(settings: Settings, number: int) -> str:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            status = session.exec(select(Issue.status).where(Issue.number == number)).one()
    finally:
        engine.dispose()
    return str(status)


def one_round(workers: int, base_url: str, args: argparse.Namespace, folder: Path) -> Round:
    with fresh_database(base_url, folder, f"workers{workers}") as url:
        settings = _settings(url, args)
        engine = make_engine(url)
        upgrade(engine)
        add_subscribers(settings, args.subscribers)
        issue = build(settings)
        standin = StandInProcess()
        env_file = folder / "empty.env"
        env_file.write_text("")
        try:
            per_request = min(args.batch_size, args.subscribers)
            body = sample_body(settings, issue, per_request)
            in_flight = workers * args.concurrency
            top = ceiling(standin, body, per_request, args.ceiling_requests, in_flight)
            standin.control("POST", "reset")
            settings.sendgrid_host = standin.url
            started = _start_workers(
                workers, _worker_environment(settings, standin, env_file), folder
            )
            try:
                load = Path("/proc/loadavg").read_text().split()[0]
                begun = time.perf_counter()
                with SendGridBackend.from_settings(settings) as backend:
                    send_issue(engine, issue.number, settings, backend, detach=True)
                snapshotted = time.perf_counter()
                while _status(settings, issue.number) != IssueStatus.SENT:
                    time.sleep(0.05)
                done = time.perf_counter()
            finally:
                _stop_workers(started)
            stats = standin.control("GET", "stats")
        finally:
            standin.stop()
        with session_scope(engine) as session:
            counts = issue_status(session, issue.number)
        engine.dispose()
    assert stats["accepted_personalizations"] == args.subscribers, stats
    assert counts.accepted == args.subscribers, counts
    return Round(workers, snapshotted - begun, done - snapshotted, counts.accepted, top, load)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database")
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="per worker")
    parser.add_argument("--ceiling-requests", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

    rounds = []
    with tempfile.TemporaryDirectory(prefix="workers-bench-") as tmp:
        for count in args.workers:
            done = one_round(count, args.database_url, args, Path(tmp))
            rounds.append(done)
            print(
                f"{done.workers} worker(s): {done.accepted:,} recipients sent in "
                f"{done.sending:.1f} s after a {done.snapshot:.1f} s snapshot = "
                f"{done.rate:,.0f} recipients/s; stand-in ceiling at "
                f"{done.workers * args.concurrency} requests in flight: {done.ceiling:,.0f}/s "
                f"({done.rate / done.ceiling:.0%}); load average {done.load} at the start",
                flush=True,
            )
    if len(rounds) > 1:
        first = rounds[0]
        for other in rounds[1:]:
            print(
                f"{other.workers} workers against {first.workers}: "
                f"{other.rate / first.rate:.2f}× the throughput"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
