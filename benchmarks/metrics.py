"""How long the ledger's part of a /metrics scrape takes (`analytics.ledger_metrics`), with
the ledger of a million-recipient send, or of a year of them.

    .venv/bin/python -m benchmarks.metrics [--database-url URL] [--issues 52] [--batches 1000]

Fills `send_batch` with `--issues` x `--batches` rows (1,000 recipients each, in a mix of
final states, as finished sends leave them) in a fresh database (a temporary SQLite file,
or a schema of its own on PostgreSQL, dropped afterwards), then times the collector's one
grouped statement, warm, over --runs runs: median and slowest in ms. `send_recipient` is
not filled: the collector never reads it, which is the point.

Not a test: a measurement to compare before and after a change.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from newsletter.analytics.ledger_metrics import LedgerCollector
from newsletter.core.database import make_engine, upgrade
from newsletter.sending.ledger import BatchState


@contextmanager
def database(url: str | None) -> Iterator[Engine]:
    if url is None:
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'metrics.db'}")
            upgrade(engine)
            yield engine
            engine.dispose()
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def fill(engine: Engine, issues: int, batches: int) -> None:
    """`send_batch` rows without their issues: the foreign key is not what is measured."""
    states = (
        [BatchState.ACCEPTED] * 97 + [BatchState.FAILED, BatchState.UNKNOWN] + [BatchState.SKIPPED]
    )
    insert = (
        "INSERT INTO send_batch (issue_id, seq, state, size, sent, attempts, tries) "
        "VALUES (%s, %s, %s, %s, %s, %s, 0)"
    )
    raw = engine.raw_connection()  # the driver's own: SQLite's pragma must precede BEGIN
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        else:
            raw.commit()
            cursor.execute("PRAGMA foreign_keys = OFF")
            insert = insert.replace("%s", "?")
        for issue in range(1, issues + 1):
            cursor.executemany(
                insert,
                [
                    (issue, seq, states[seq % len(states)].value, 1000, 998, 1 + seq % 3)
                    for seq in range(1, batches + 1)
                ],
            )
        raw.commit()
        if engine.dialect.name == "postgresql":
            cursor.execute("ANALYZE send_batch")
            raw.commit()
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL; default: SQLite")
    parser.add_argument("--issues", type=int, default=52)
    parser.add_argument("--batches", type=int, default=1000, help="per issue (1,000 each)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with database(args.database_url) as engine:
        fill(engine, args.issues, args.batches)
        collector = LedgerCollector(engine)
        list(collector.collect())  # warm: connection, statement cache
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            list(collector.collect())
            times.append((time.perf_counter() - started) * 1000)
    rows = args.issues * args.batches
    print(
        f"{engine.dialect.name}: {rows:,} batches ({rows * 1000:,} recipients): "
        f"median {statistics.median(times):.1f} ms, slowest {max(times):.1f} ms"
    )


if __name__ == "__main__":
    main()
