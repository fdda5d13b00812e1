"""How long the audience snapshot takes: `snapshot_audience` itself, in its own transaction
and committed, on a list of N active subscribers.

    .venv/bin/python -m benchmarks.snapshot --database-url postgresql+psycopg://… \
        --subscribers 1000000 --runs 5

Each run snapshots a new issue after a CHECKPOINT (PostgreSQL), so no run pays for the
write-ahead log an earlier one left to flush; the earlier issues' recipients stay, as a
real list's history does. Prints every run and the median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, text

from benchmarks.databases import fresh_database
from benchmarks.report import BATCH, add_subscribers
from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.sending.ledger import snapshot_audience


def new_issue(engine: Engine, number: int) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO issue (number, week, status, created_at, subject, preheader, "
                    "html, text, mjml, content_hash) VALUES (:n, :w, 'sending', "
                    "CURRENT_TIMESTAMP, '', '', '', '', '', :h) RETURNING id"
                ),
                {"n": number, "w": f"2026-W{number:02d}", "h": f"bench-{number}"},
            ).scalar_one()
        )


def settle(engine: Engine) -> None:
    """What a list has before a send: statistics on it, and no dirty pages waiting."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE subscriber"))
        conn.execute(text("CHECKPOINT"))


def timed_snapshot(engine: Engine, issue_id: int) -> tuple[float, int]:
    started = time.perf_counter()
    with session_scope(engine, immediate=True) as session:
        audience = snapshot_audience(session, issue_id, BATCH).audience
    return time.perf_counter() - started, audience


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database_url, Path(tmp)) as url:
        engine = make_engine(url)
        upgrade(engine)
        add_subscribers(engine, args.subscribers)
        seconds = []
        for run in range(1, args.runs + 1):
            issue_id = new_issue(engine, run)
            settle(engine)
            took, audience = timed_snapshot(engine, issue_id)
            seconds.append(took)
            print(f"run {run}: {audience:,} recipients snapshotted in {took:.2f} s", flush=True)
        engine.dispose()
    print(
        f"{engine.dialect.name}, {args.subscribers:,} subscribers: median "
        f"{statistics.median(seconds):.2f} s over {len(seconds)} runs "
        f"({', '.join(f'{s:.2f}' for s in seconds)})"
    )


if __name__ == "__main__":
    main()
