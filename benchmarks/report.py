"""How fast an issue's report answers for a million recipients and three million events.

    .venv/bin/python -m benchmarks.report [--recipients 1000000] [--runs 7]
    .venv/bin/python -m benchmarks.report --database-url postgresql+psycopg://…

Builds, in a fresh SQLite file (or a schema of its own in --database-url), one issue sent
to N subscribers and what its events left behind, with bulk SQL only (INSERT ... SELECT
over a recursive CTE, or generate_series on PostgreSQL; the audience by the ledger's own
snapshot):

- the ledger: N `send_recipient` rows in batches of 1,000, nearly all accepted, with a
  few batches as a real send leaves them (two failed, one unknown, one whose provider
  refused three recipients one by one, one with ten recipients skipped);
- 3 x N `delivery_event` rows: `processed` for everyone, then delivered (or a hard or
  soft bounce, a drop, a deferral), then an open, machine open, click, spam report,
  unsubscribe or an earlier deferral;
- N `recipient_activity` rows saying the same, `link_click` / `issue_link` for 20 links,
  and `event_tally` counted from those rows (what tracking keeps as events arrive).

Then it times, median of --runs: `issue_report` cold (a new engine's first call: empty
connection pool and SQLite page cache; the OS file cache is warm) and warm (the same
engine again), the ledger's recipient states as one plain GROUP BY (what the report
avoids), the report's worst case (every batch too odd for its batch total, so every
recipient counted), and GET /api/issues/N/report over HTTP under uvicorn. It checks that the
report's ledger numbers equal the plain count and its counters the rows it built.

Not a test: a measurement to compare before and after a change.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, TextClause, bindparam, text
from sqlmodel.sql.sqltypes import UTCDateTime

from benchmarks.databases import fresh_database
from benchmarks.send import build
from benchmarks.signup import serving
from newsletter.analytics import IssueReport, issue_report, recipients
from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.core.settings import PROJECT_ROOT, Settings
from newsletter.sending.ledger import snapshot_audience
from newsletter.web.app import create_app

BATCH = 1000
LINKS = 20
TOKEN = "bench-admin-token"

# Per recipient, a bucket b = k % 1000 (k: the recipient's rank) decides its story.
# b < 20: hard bounce; < 30: soft bounce; < 35: dropped; < 45: still deferred; else
# delivered, then: < 47 spam report; < 50 unsubscribe; < 150 click; < 300 machine open;
# < 600 open; else an earlier deferral (delivered after it).
_DELIVERY = """CASE WHEN b < 30 THEN 'bounced' WHEN b < 35 THEN 'dropped'
    WHEN b < 45 THEN 'deferred' ELSE 'delivered' END"""
_THIRD = """CASE WHEN b < 45 THEN 'deferred' WHEN b < 47 THEN 'complained'
    WHEN b < 50 THEN 'unsubscribed' WHEN b < 150 THEN 'clicked' WHEN b < 600 THEN 'opened'
    ELSE 'deferred' END"""
_TALLIES = {
    "delivered": "SUM(CASE WHEN delivery = 'delivered' THEN 1 ELSE 0 END)",
    "deferred": "SUM(CASE WHEN delivery = 'deferred' THEN 1 ELSE 0 END)",
    "bounced_hard": "SUM(CASE WHEN delivery = 'bounced' AND bounce_kind = 'hard' THEN 1 END)",
    "bounced_soft": "SUM(CASE WHEN delivery = 'bounced' AND bounce_kind = 'soft' THEN 1 END)",
    "dropped": "SUM(CASE WHEN delivery = 'dropped' THEN 1 ELSE 0 END)",
    "complained": "COUNT(complained_at)",
    "unsubscribed": "COUNT(unsubscribed_at)",
    "opened": "COUNT(first_open_at)",
    "machine_opened": "COUNT(machine_open_at)",
    "clicked": "COUNT(first_click_at)",
}
"""Each counter of `event_tally` as tracking would have kept it, counted from the rows."""
# Batches left as a real send leaves a few: (seq, batch state, batch error, recipients
# moved in it, how many of them, their state, `sent` short by).
_ODD_BATCHES = (
    (2, "failed", "400 bad request", 1000, "failed", 0),
    (3, "failed", "400 bad request", 1000, "failed", 0),
    (5, "unknown", "timed out", 1000, "unknown", 0),
    (7, "accepted", "outbox: 3 of 1000 message(s) not written", 3, "failed", 0),
    (11, "accepted", None, 10, "skipped", 10),
)
SENT_AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def timed(sql: str) -> TextClause:
    """`sql` whose `:t` is a time, bound as the columns store one on either database."""
    return text(sql).bindparams(bindparam("t", type_=UTCDateTime()))


def numbers(conn: Connection, count: int) -> str:
    """A FROM item yielding i = 1..count."""
    if conn.dialect.name == "postgresql":
        return f"generate_series(1, {int(count)}) AS n(i)"
    return (
        "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "  # noqa: S608
        f"WHERE i < {int(count)}) SELECT i FROM n) AS n"
    )


def url_of(index: int) -> str:
    return f"https://tools.example.com/compare/link-{index:02d}?utm_source=newsletter"


def add_subscribers(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        sql = (
            "INSERT INTO subscriber (email, name, status, source, created_at, "  # noqa: S608
            "status_changed_at) SELECT 'reader' || CAST(i AS VARCHAR(20)) || "
            f"'@example.com', NULL, 'active', 'cli', :t, :t FROM {numbers(conn, count)}"
        )
        conn.execute(timed(sql), {"t": SENT_AT})


def send_ledger(engine: Engine, issue_id: int) -> int:
    """The audience snapshotted by the ledger itself, then the batches' outcomes; returns
    the first subscriber id."""
    with session_scope(engine) as session:
        snapshot_audience(session, issue_id, BATCH)
    with engine.begin() as conn:
        p: dict[str, Any] = {"i": issue_id}
        conn.execute(text("UPDATE issue SET status = 'sent' WHERE id = :i"), p)
        conn.execute(text("UPDATE issue_send SET finished_at = started_at WHERE issue_id = :i"), p)
        conn.execute(
            text(
                "UPDATE send_batch SET state = 'accepted', sent = size, attempts = 1 "
                "WHERE issue_id = :i"
            ),
            p,
        )
        conn.execute(text("UPDATE send_recipient SET state = 'accepted' WHERE issue_id = :i"), p)
        first = int(conn.execute(text("SELECT MIN(id) FROM subscriber")).scalar_one())
        for seq, state, error, moved, to, short in _ODD_BATCHES:
            q = {**p, "q": seq, "s": state, "e": error, "short": short}
            conn.execute(
                text(
                    "UPDATE send_batch SET state = :s, error = :e, sent = size - :short "
                    "WHERE issue_id = :i AND seq = :q"
                ),
                q,
            )
            lowest = first + (seq - 1) * BATCH  # the batch's first subscriber id
            conn.execute(
                text(
                    "UPDATE send_recipient SET state = :to WHERE issue_id = :i "
                    "AND batch_seq = :q AND subscriber_id < :end"
                ),
                {**q, "to": to, "end": lowest + moved},
            )
    return first


def add_events(conn: Connection, p: dict[str, Any], count: int) -> None:
    """3 x count events: processed, then the delivery, then engagement (or a deferral)."""
    conn.execute(
        timed(
            f"""
            INSERT INTO delivery_event (provider, event_id, type, provider_type,
                occurred_at, received_at, issue_id, subscriber_id, batch_seq, bounce_kind,
                url, machine_open)
            SELECT 'sendgrid', 'ev' || CAST(j AS VARCHAR(20)), kind, kind, :t, :t, :i,
                :f + k, k / {BATCH} + 1,
                CASE WHEN kind = 'bounced' THEN
                    CASE WHEN b < 20 THEN 'hard' ELSE 'soft' END END,
                CASE WHEN kind = 'clicked' THEN 'https://tools.example.com/compare/link-'
                    || CASE WHEN k % {LINKS} < 10 THEN '0' ELSE '' END
                    || CAST(k % {LINKS} AS VARCHAR(5)) || '?utm_source=newsletter' END,
                CASE WHEN kind = 'opened' AND b < 300 THEN TRUE ELSE FALSE END
            FROM (
                SELECT j, k, b, CASE WHEN step = 0 THEN 'processed'
                    WHEN step = 1 THEN {_DELIVERY} ELSE {_THIRD} END AS kind
                FROM (
                    SELECT i AS j, (i - 1) % :n AS k, ((i - 1) % :n) % 1000 AS b,
                        (i - 1) / :n AS step
                    FROM {numbers(conn, 3 * count)}
                ) AS s
            ) AS e
            """  # noqa: S608
        ),
        p,
    )


def add_activity(conn: Connection, p: dict[str, Any], count: int) -> None:
    """What the events say of each recipient: one `recipient_activity` row each."""
    conn.execute(
        timed(
            f"""
            INSERT INTO recipient_activity (issue_id, subscriber_id, delivery, delivery_at,
                bounce_kind, soft_failed, first_open_at, machine_open_at, first_click_at,
                complained_at, unsubscribed_at)
            SELECT :i, :f + k, {_DELIVERY}, :t,
                CASE WHEN b < 20 THEN 'hard' WHEN b < 30 THEN 'soft' END,
                CASE WHEN b >= 20 AND b < 30 THEN TRUE ELSE FALSE END,
                CASE WHEN b >= 300 AND b < 600 THEN :t END,
                CASE WHEN b >= 150 AND b < 300 THEN :t END,
                CASE WHEN b >= 50 AND b < 150 THEN :t END,
                CASE WHEN b >= 45 AND b < 47 THEN :t END,
                CASE WHEN b >= 47 AND b < 50 THEN :t END
            FROM (SELECT i - 1 AS k, (i - 1) % 1000 AS b FROM {numbers(conn, count)}) AS r
            """  # noqa: S608
        ),
        p,
    )


def add_links(conn: Connection, p: dict[str, Any]) -> None:
    """Each clicker clicked one of the 20 links, every seventh a second one too."""
    hashes = {index: hashlib.sha256(url_of(index).encode()).hexdigest() for index in range(LINKS)}
    conn.execute(
        text("INSERT INTO issue_link (issue_id, url_hash, url, clicks) VALUES (:i, :h, :u, 0)"),
        [{"i": p["i"], "h": h, "u": url_of(index)} for index, h in hashes.items()],
    )
    values = ", ".join(f"({index}, '{h}')" for index, h in hashes.items())
    conn.execute(
        text(
            f"""
            WITH l(idx, url_hash) AS (VALUES {values})
            INSERT INTO link_click (issue_id, url_hash, subscriber_id)
            SELECT :i, l.url_hash, r.subscriber_id
            FROM recipient_activity r
            JOIN l
                ON l.idx = (r.subscriber_id - :f) % {LINKS}
                OR (l.idx = ((r.subscriber_id - :f) % {LINKS} + 1) % {LINKS}
                    AND (r.subscriber_id - :f) % 7 = 0)
            WHERE r.issue_id = :i AND r.first_click_at IS NOT NULL
            """  # noqa: S608
        ),
        p,
    )
    conn.execute(
        text(
            "UPDATE issue_link SET clicks = (SELECT COUNT(*) FROM link_click c "
            "WHERE c.issue_id = issue_link.issue_id AND c.url_hash = issue_link.url_hash) "
            "WHERE issue_id = :i"
        ),
        p,
    )


def add_tallies(conn: Connection, p: dict[str, Any]) -> None:
    for name, counted in _TALLIES.items():
        conn.execute(
            text(
                f"INSERT INTO event_tally (issue_id, name, value) SELECT :i, :name, {counted} "  # noqa: S608
                "FROM recipient_activity WHERE issue_id = :i"
            ),
            {**p, "name": name},
        )
    conn.execute(
        text(
            "INSERT INTO event_tally (issue_id, name, value) SELECT :i, 'events', COUNT(*) "
            "FROM delivery_event WHERE issue_id = :i"
        ),
        p,
    )


def events(engine: Engine, issue_id: int, first: int, count: int) -> None:
    """3 x count events, the activity rows and links they leave, and the counters."""
    with engine.begin() as conn:
        p: dict[str, Any] = {"i": issue_id, "f": first, "n": count, "t": SENT_AT}
        add_events(conn, p, count)
        add_activity(conn, p, count)
        add_links(conn, p)
        add_tallies(conn, p)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def median_ms(call: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def plain_count(engine: Engine, issue_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT state, COUNT(*) FROM send_recipient WHERE issue_id = :i GROUP BY state"),
            {"i": issue_id},
        )
        return {state: int(n) for state, n in rows}


def check(report: IssueReport, plain: dict[str, int], count: int) -> None:
    """The report says what was built: the ledger as the plain count has it, the counters
    as the buckets make them."""
    ledger = {
        "accepted": report.accepted,
        "failed": report.failed,
        "unknown": report.unknown,
        "skipped": report.skipped,
    }
    assert ledger == {k: plain.get(k, 0) for k in ledger}, (ledger, plain)
    assert report.audience == count
    assert report.events == 3 * count
    per_thousand = count // 1000
    assert report.bounced_hard == 20 * per_thousand
    assert report.unique_clicks == 100 * per_thousand
    assert len(report.links) == LINKS


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    count = args.recipients - args.recipients % 1000
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database_url, Path(tmp)) as url:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            content_dir=PROJECT_ROOT / "content",
            outbox_dir=Path(tmp) / "outbox",
            secret_key="benchmark-" + "k" * 40,
            admin_token=TOKEN,
        )
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        issue = build(settings)
        assert issue.id is not None
        add_subscribers(engine, count)
        first = send_ledger(engine, issue.id)
        events(engine, issue.id, first, count)
        print(
            f"built {engine.dialect.name}: {count:,} recipients, {3 * count:,} events "
            f"in {time.perf_counter() - started:.1f} s"
        )

        def cold() -> IssueReport:
            fresh = make_engine(url)
            try:
                with session_scope(fresh) as session:
                    return issue_report(session, issue.number)
            finally:
                fresh.dispose()

        def warm() -> IssueReport:
            with session_scope(engine) as session:
                return issue_report(session, issue.number)

        cold_ms, _ = median_ms(cold, args.runs)
        warm()
        warm_ms, report = median_ms(warm, args.runs)
        plain_ms, plain = median_ms(lambda: plain_count(engine, issue.id or 0), args.runs)
        usual = recipients.UNCLEAN_MAX
        recipients.UNCLEAN_MAX = 0  # as if every batch had a refusal: all counted
        try:
            worst_ms, worst = median_ms(warm, args.runs)
        finally:
            recipients.UNCLEAN_MAX = usual
        assert worst == report
        assert isinstance(report, IssueReport)
        assert isinstance(plain, dict)
        check(report, plain, count)
        print(f"issue_report, cold (new engine): {cold_ms:8.1f} ms median of {args.runs}")
        print(f"issue_report, warm:              {warm_ms:8.1f} ms median of {args.runs}")
        print(f"ledger states by one GROUP BY:   {plain_ms:8.1f} ms (what the report avoids)")
        print(f"issue_report, every batch odd:   {worst_ms:8.1f} ms (the worst case, warm)")
        with serving(create_app(settings, engine)) as base, httpx.Client(base_url=base) as http:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            path = f"/api/issues/{issue.number}/report"

            def get() -> int:
                answer = http.get(path, headers=headers)
                assert answer.status_code == 200, answer.text
                return int(answer.json()["delivered"])

            get()
            api_ms, delivered = median_ms(get, args.runs)
            assert delivered == report.delivered
        print(f"GET {path} over HTTP: {api_ms:8.1f} ms median of {args.runs}")
        engine.dispose()


if __name__ == "__main__":
    main()
