"""How fast a large CSV is imported, and whether memory stays flat while it is.

    .venv/bin/python -m benchmarks.import_csv --rows 1000000

Writes an N-row CSV (email,name; one row in --bad-every is a bad address or a duplicate, so
the reporting path runs too), imports it with `subscribers.importer.import_csv` into a
fresh SQLite file (or a fresh schema of --database-url), and prints rows per second, wall
time and peak RSS (resource.getrusage), next to the RSS before the import: a flat-memory
import keeps the two close whatever N is.

Not a test: a measurement to compare before and after a change.
"""

from __future__ import annotations

import argparse
import resource
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from newsletter.core.database import make_engine, upgrade
from subscribers.importer import BadRow, import_csv


def write_csv(path: Path, rows: int, bad_every: int) -> None:
    """Streams the file out: the generator holds one row at a time, whatever N is."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name\n")
        for i in range(rows):
            email = f"reader{i}@mail{i % 500}.example.com"
            if bad_every and i % bad_every == bad_every - 1:
                # Alternately a duplicate of the row before and an address without an @.
                odd = (i // bad_every) % 2
                email = (
                    email.replace("@", ".")
                    if odd
                    else f"reader{i - 1}@mail{(i - 1) % 500}.example.com"
                )
            out.write(f"{email},Reader {i}\n")


def rss_mb() -> float:
    """Current resident memory in MB (Linux /proc), 0 elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--bad-every", type=int, default=1000, help="0: every row is good")
    parser.add_argument("--database-url", help="PostgreSQL URL; a schema is made and dropped")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "members.csv"
        started = time.perf_counter()
        write_csv(csv_path, args.rows, args.bad_every)
        print(
            f"wrote {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - started:.1f} s"
        )

        schema = None
        admin = None
        if args.database_url:
            admin = make_engine(args.database_url)
            schema = f"bench_{secrets.token_hex(4)}"
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = make_url(args.database_url).update_query_dict(
                {"options": f"-csearch_path={schema}"}
            )
            engine = make_engine(url.render_as_string(hide_password=False))
        else:
            engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
        try:
            upgrade(engine)
            bad: list[BadRow] = []

            def keep_a_few(row: BadRow) -> None:
                if len(bad) < 3:
                    bad.append(row)

            rss_before = rss_mb()
            started = time.perf_counter()
            with csv_path.open(encoding="utf-8", newline="") as stream:
                report = import_csv(
                    engine,
                    stream,
                    confirmed=True,
                    batch_size=args.batch_size,
                    on_bad_row=keep_a_few,
                    label=csv_path.name,
                )
            wall = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
        finally:
            engine.dispose()
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()

    print(f"database: {engine.dialect.name}, batch size {args.batch_size}")
    print(
        f"rows {report.rows:,}: imported {report.imported:,}, unchanged {report.unchanged:,}, "
        f"bad {report.bad:,}"
    )
    for row in bad:
        print(f"  e.g. {row}")
    print(f"wall time: {wall:.1f} s")
    print(f"rows/s:    {report.rows / wall:,.0f}")
    print(f"RSS before the import: {rss_before:.0f} MB; peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
