"""The data the desk benchmark times its pages against, built in bulk SQL into a SQLite file.

What `build` makes, for `size` = N (a multiple of 1,000):

- N subscribers, signed up over two years (varied domains, three in four with a name),
  each with the status change that recorded their arrival; all active when the newest
  issue went out, so its ledger holds all N of them;
- the newest issue, built from content/ by `build_issue` (three comparisons) and sent to
  the N through the ledger's own `snapshot_audience` (`benchmarks.report.send_ledger`,
  with its few odd batches), then 3 x N delivery events for it and what tracking derives
  from them: `recipient_activity` and `event_tally` by `benchmarks.report`'s INSERT ...
  SELECT builders (a recursive CTE counts the rows), `issue_link` and `link_click` by the
  same rule as its `add_links`, faster (`add_link_clicks`). Every event happens at the
  send's minute, as that builder makes them: a chart per hour has one full bar, and
  counts as many rows as if they were spread;
- what those events did to the list, as tracking's suppression rule does it: the hard
  bounces made bounced, the spam reports complained, the unsubscribes unsubscribed, each
  with its status-change row and the reason tracking writes;
- five earlier issues, one a week before it, sent to a growing prefix of the list
  (90%..98% of N) with a ledger, activity rows (opens and clicks, no bounces), link clicks
  and counters counted from those rows (their raw events are not kept: the counters and
  activity are what the report and the subscriber page read);
- N / 50 pending sign-ups that arrived after the newest send;
- votes: one recipient in 50 voted on each comparison of each sent issue;
- three accounts (admin, editor, viewer) added by `accounts.team.add_account`, and a
  year of audit entries (30 a day) beside the ones that added them.

SQLite only: the issue's figure is for SQLite. The build switches off fsync for its own
connections (the file is a throwaway), so it is fast, not durable.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, bindparam, event, text
from sqlmodel import col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from benchmarks import report
from benchmarks.report import _TALLIES, numbers
from newsletter.accounts.audit import COMMAND_LINE, Audited
from newsletter.accounts.roles import Role
from newsletter.accounts.team import add_account
from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.core.settings import Settings
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue
from newsletter.publishing.models import Comparison, Issue, IssueComparison
from newsletter.publishing.weeks import week_of
from newsletter.sending.ledger import make_room

EARLIER = 5
PASSWORD = "desk benchmark password"
ADMIN = "admin@bench.example"
AUDIT_PER_DAY = 30
_DOMAINS = ("example.com", "mail.example.org", "example.net", "post.example.de")
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")


@dataclass(frozen=True)
class Facts:
    """What was built, for the page list (ids to put in paths) and the report."""

    size: int
    subscribers: int
    events: int
    issue_number: int
    earlier_numbers: list[int]
    subscriber_id: int
    """A bounced recipient of the newest issue: history, activity, votes, a suppression."""
    name_query: str
    address_query: str
    build_seconds: float
    built_at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fast(engine: Engine) -> None:
    """No fsync and a big page cache on the build's own connections."""

    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-262144")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    event.listen(engine, "connect", on_connect)


def _timed(sql: str, *names: str) -> TextClause:
    """`sql` whose named parameters are times, bound as the columns store one."""
    return text(sql).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in names))


def _at(offset_seconds: str, base: str = "t0") -> str:
    """SQL for `:base` moved by `offset_seconds` (an SQL expression), as SQLite stores times."""
    return f"strftime('%Y-%m-%d %H:%M:%S', :{base}, ({offset_seconds}) || ' seconds') || '.000000'"


def _pick(values: tuple[str, ...], expr: str) -> str:
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"CASE ({expr}) % {len(values)} {whens} END"


def add_subscribers(conn: Connection, count: int, since: datetime, until: datetime) -> None:
    """`count` active subscribers, arrived evenly between `since` and `until`, each with
    the status change that recorded its arrival."""
    span = int((until - since).total_seconds())
    conn.execute(
        _timed(
            f"""
            INSERT INTO subscriber (email, name, status, source, created_at,
                status_changed_at, confirmed_at, consent_at, consent_ip)
            SELECT 'reader' || i || '@' || {_pick(_DOMAINS, "i")},
                CASE WHEN i % 4 = 3 THEN NULL
                    ELSE {_pick(_FIRST, "i / 4")} || ' ' || {_pick(_LAST, "i / 32")} END,
                'active', CASE WHEN i % 5 = 0 THEN 'import' ELSE 'form' END,
                c, c, c, c, '192.0.2.' || (i % 250)
            FROM (SELECT i, {_at(f"i * {span} / {count}")} AS c
                FROM {numbers(conn, count)}) AS s
            """,  # noqa: S608
            "t0",
        ),
        {"t0": since},
    )
    conn.execute(
        text(
            "INSERT INTO status_change (subscriber_id, at, from_status, to_status, reason, "
            "source) SELECT id, created_at, NULL, 'active', CASE source WHEN 'import' THEN "
            "'imported with consent on record' ELSE 'confirmed the sign-up email' END, "
            "source FROM subscriber"
        )
    )


def add_pending(conn: Connection, count: int, after: int, since: datetime, span: int) -> None:
    """`count` sign-ups waiting for their confirmation, arrived within `span` seconds after
    `since`; addresses numbered from `after` + 1."""
    conn.execute(
        _timed(
            f"""
            INSERT INTO subscriber (email, name, status, source, created_at,
                status_changed_at, confirmation_sent_at, consent_at, consent_ip)
            SELECT 'reader' || (i + {after}) || '@' || {_pick(_DOMAINS, "i")}, NULL,
                'pending', 'form', c, c, c, c, '198.51.100.' || (i % 250)
            FROM (SELECT i, {_at(f"i * {span} / {count}")} AS c
                FROM {numbers(conn, count)}) AS s
            """,  # noqa: S608
            "t0",
        ),
        {"t0": since},
    )
    conn.execute(
        text(
            "INSERT INTO status_change (subscriber_id, at, from_status, to_status, reason, "
            "source) SELECT id, created_at, NULL, 'pending', 'signed up through the form', "
            "source FROM subscriber WHERE status = 'pending'"
        )
    )


_SUPPRESSED = (
    # (bucket range of the newest issue's story, status, timestamp column, tracking's reason)
    (0, 20, "bounced", "bounced_at", "sendgrid bounced (hard) on issue #{n}"),
    (45, 47, "complained", "complained_at", "sendgrid complained on issue #{n}"),
    (47, 50, "unsubscribed", "unsubscribed_at", "sendgrid unsubscribed on issue #{n}"),
)


def apply_suppressions(conn: Connection, first: int, number: int, sent: datetime) -> None:
    """What the newest issue's events did to the list (the buckets of `benchmarks.report`):
    status, reason, its time and the history row, as tracking's suppression writes them."""
    for low, high, status, column, reason in _SUPPRESSED:
        p = {"f": first, "lo": low, "hi": high, "s": status, "r": reason.format(n=number)}
        at = _at("3600 + ((id - :f) % 1000) * 7", "t")
        conn.execute(
            _timed(
                f"UPDATE subscriber SET status = :s, status_reason = :r, status_changed_at = "  # noqa: S608
                f"{at}, {column} = {at} WHERE id >= :f AND (id - :f) % 1000 >= :lo "
                "AND (id - :f) % 1000 < :hi AND status = 'active'",
                "t",
            ),
            {**p, "t": sent},
        )
        conn.execute(
            text(
                "INSERT INTO status_change (subscriber_id, at, from_status, to_status, reason, "
                "source) SELECT id, status_changed_at, 'active', :s, :r, 'webhook' "
                "FROM subscriber WHERE status = :s"
            ),
            p,
        )


def add_earlier_issue(
    conn: Connection, issue_id: int, first: int, audience: int, sent: datetime
) -> None:
    """An earlier issue sent to subscribers `first` .. `first + audience - 1`: its ledger
    (all accepted), everyone delivered, opens and clicks, link clicks and counters."""
    p: dict[str, Any] = {"i": issue_id, "f": first, "a": audience, "t": sent, "b": report.BATCH}
    conn.execute(text("UPDATE issue SET status = 'sent' WHERE id = :i"), p)
    make_room(conn, issue_id)
    conn.execute(
        text(
            "INSERT INTO send_recipient (issue_id, subscriber_id, batch_seq, state) "
            "SELECT :i, id, (id - :f) / :b + 1, 'accepted' FROM subscriber "
            "WHERE id >= :f AND id < :f + :a ORDER BY id"
        ),
        p,
    )
    conn.execute(
        _timed(
            "INSERT INTO send_batch (issue_id, seq, state, size, sent, attempts, tries, "
            "claimed_at, finished_at, message_id) SELECT :i, batch_seq, 'accepted', COUNT(*), "
            "COUNT(*), 1, 1, :t, :t, 'm' || batch_seq FROM send_recipient WHERE issue_id = :i "
            "GROUP BY batch_seq",
            "t",
        ),
        p,
    )
    conn.execute(
        _timed(
            "INSERT INTO issue_send (issue_id, started_at, finished_at, audience, batches, "
            "batch_size) SELECT :i, :t, :t, :a, COUNT(*), :b FROM send_batch WHERE issue_id = :i",
            "t",
        ),
        p,
    )
    shift = issue_id % 5  # each issue a little different
    conn.execute(
        _timed(
            f"""
            INSERT INTO recipient_activity (issue_id, subscriber_id, delivery, delivery_at,
                bounce_kind, soft_failed, first_open_at, machine_open_at, first_click_at,
                complained_at, unsubscribed_at)
            SELECT :i, subscriber_id, 'delivered', :t, NULL, FALSE,
                CASE WHEN b >= {300 + 20 * shift} AND b < 600 THEN {_at("600 + b * 30", "t")} END,
                CASE WHEN b >= 150 AND b < 300 THEN {_at("60 + b", "t")} END,
                CASE WHEN b >= 50 AND b < {150 - 5 * shift} THEN {_at("900 + b * 40", "t")} END,
                NULL, NULL
            FROM (SELECT subscriber_id, (subscriber_id - :f) % 1000 AS b
                FROM send_recipient WHERE issue_id = :i) AS r
            """,  # noqa: S608
            "t",
        ),
        p,
    )
    add_link_clicks(conn, p)
    for name, counted in _TALLIES.items():  # the counters its rows make (absent when none)
        conn.execute(
            text(
                f"INSERT INTO event_tally (issue_id, name, value) SELECT :i, :name, {counted} "  # noqa: S608
                "FROM recipient_activity WHERE issue_id = :i HAVING COUNT(*) > 0 "
                f"AND COALESCE({counted}, 0) > 0"
            ),
            {**p, "name": name},
        )


def add_link_clicks(conn: Connection, p: dict[str, Any]) -> None:
    """The links of `benchmarks.report.add_links` (each clicker one of 20, every seventh a
    second one too), with each clicker's link picked by a CASE rather than a join: the
    join's OR makes SQLite read the issue's activity once per link."""
    hashes = [hashlib.sha256(report.url_of(n).encode()).hexdigest() for n in range(report.LINKS)]
    conn.execute(
        text("INSERT INTO issue_link (issue_id, url_hash, url, clicks) VALUES (:i, :h, :u, 0)"),
        [{"i": p["i"], "h": h, "u": report.url_of(n)} for n, h in enumerate(hashes)],
    )
    whens = " ".join(f"WHEN {n} THEN '{h}'" for n, h in enumerate(hashes))
    for link, only in (("k", ""), (f"(k + 1) % {report.LINKS}", "AND k7 = 0")):
        conn.execute(
            text(
                f"INSERT INTO link_click (issue_id, url_hash, subscriber_id) "  # noqa: S608
                f"SELECT :i, CASE {link} {whens} END, subscriber_id FROM (SELECT subscriber_id, "
                f"(subscriber_id - :f) % {report.LINKS} AS k, (subscriber_id - :f) % 7 AS k7 "
                "FROM recipient_activity WHERE issue_id = :i AND first_click_at IS NOT NULL) "
                f"AS r WHERE 1 = 1 {only}"
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


def add_votes(conn: Connection, issue_id: int, every: int, voted: datetime) -> None:
    """One recipient in `every` voted on each of the issue's comparisons, tools in turn."""
    pairs = conn.execute(
        text(
            "SELECT ic.comparison_id, ct.tool_id FROM issue_comparison ic JOIN comparison_tool "
            "ct ON ct.comparison_id = ic.comparison_id WHERE ic.issue_id = :i "
            "ORDER BY ic.comparison_id, ct.position"
        ),
        {"i": issue_id},
    ).all()
    tools: dict[int, list[int]] = {}
    for comparison_id, tool_id in pairs:
        tools.setdefault(int(comparison_id), []).append(int(tool_id))
    for offset, (comparison_id, ids) in enumerate(sorted(tools.items())):
        choice = " ".join(f"WHEN {n} THEN {tool}" for n, tool in enumerate(ids))
        conn.execute(
            _timed(
                f"INSERT INTO vote (subscriber_id, issue_id, comparison_id, tool_id, voted_at, "  # noqa: S608
                f"changed_at) SELECT subscriber_id, :i, :c, CASE (subscriber_id / {every}) "
                f"% {len(ids)} {choice} END, {_at('subscriber_id % 86400', 't')}, "
                f"{_at('subscriber_id % 86400', 't')} FROM send_recipient WHERE issue_id = :i "
                f"AND subscriber_id % {every} = {offset}",
                "t",
            ),
            {"i": issue_id, "c": comparison_id, "t": voted},
        )


_AUDITED = (
    Audited.SIGN_IN,
    Audited.ISSUE_APPROVE,
    Audited.SIGN_OUT,
    Audited.SUBSCRIBER_STATUS,
    Audited.SIGN_IN,
    Audited.SUBSCRIBER_EXPORT,
    Audited.ISSUE_CHECK,
    Audited.SUPPRESSION_LIFT,
)


def add_team(engine: Engine, since: datetime, days: int) -> None:
    """An admin, an editor and a viewer (through `add_account`, audited), and a history of
    what they did: AUDIT_PER_DAY entries a day for `days` days."""
    with session_scope(engine) as session:
        for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
            email = ADMIN if role is Role.ADMIN else f"{role.value}@bench.example"
            add_account(session, email, role, PASSWORD, COMMAND_LINE)
    actions = " ".join(f"WHEN {n} THEN '{a.value}'" for n, a in enumerate(_AUDITED))
    with engine.begin() as conn:
        conn.execute(
            _timed(
                f"""
                INSERT INTO audit_entry (at, account_id, actor, action, target, detail)
                SELECT {_at(f"i * 86400 / {AUDIT_PER_DAY}")}, a.id, a.email,
                    CASE i % {len(_AUDITED)} {actions} END,
                    CASE WHEN i % 2 = 1 THEN 'reader' || (i * 7919 % 100000) || '@example.com'
                        ELSE '' END,
                    CASE WHEN i % 4 = 3 THEN 'reason: asked by email' ELSE '' END
                FROM {numbers(conn, days * AUDIT_PER_DAY)}
                JOIN account a ON a.id = 1 + i % 3
                """,  # noqa: S608
                "t0",
            ),
            {"t0": since},
        )


def _issue_ids(conn: Connection) -> dict[int, int]:
    rows = conn.execute(text("SELECT number, id FROM issue ORDER BY number"))
    return {int(number): int(issue_id) for number, issue_id in rows}


def _earlier_issues(engine: Engine, newest: Comparison, others: list[Comparison]) -> None:
    """EARLIER issues, numbered from 1, one a week before the newest comparison's week,
    each holding one older comparison (so the pick leaves the newest ones to the last)."""
    with session_scope(engine) as session:
        for n in range(1, EARLIER + 1):
            weeks_before = EARLIER + 1 - n
            issue = Issue(
                number=n,
                week=week_of(newest.published - timedelta(weeks=weeks_before)),
                status="sent",
                subject=f"Weekly AI Tool Verdicts #{n}",
            )
            session.add(issue)
            session.flush()
            if n - 1 < len(others):
                session.add(
                    IssueComparison(
                        issue_id=issue.id or 0, comparison_id=others[n - 1].id or 0, position=1
                    )
                )


def _newest_issue(engine: Engine, settings: Settings) -> Issue:
    """Content loaded, the earlier issues made, then the newest week's issue built."""
    with session_scope(engine) as session:
        load_content(session, settings.content_dir)
    with session_scope(engine) as session:
        comparisons = list(
            session.exec(select(Comparison).order_by(col(Comparison.published).desc())).all()
        )
    newest = comparisons[0]
    _earlier_issues(engine, newest, list(reversed(comparisons[3:])))
    with session_scope(engine) as session:
        issue = build_issue(session, week_of(newest.published), settings).issue
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE issue SET (preheader, html, text, mjml, content_hash, rendered_at) = "
                "(SELECT preheader, html, text, mjml, content_hash, rendered_at FROM issue "
                "WHERE id = :i) WHERE id <> :i"
            ),
            {"i": issue.id},
        )
    return issue


def build(path: Path, size: int, settings: Settings, say: Callable[[str], object] = print) -> Facts:
    """The benchmark's database at `path` (which must not exist), for `size` recipients;
    `say` hears each step as it ends."""
    started = time.perf_counter()

    def _step(what: str) -> None:
        say(f"{time.perf_counter() - started:7.1f} s  {what}")

    count = max(1000, size - size % 1000)
    engine = make_engine(f"sqlite:///{path}")
    _fast(engine)
    try:
        upgrade(engine)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        sent = now - timedelta(days=3)
        issue = _newest_issue(engine, settings)
        _step("content loaded, issues built")
        with engine.begin() as conn:
            add_subscribers(conn, count, now - timedelta(days=730), sent - timedelta(hours=1))
        _step(f"{count:,} subscribers")
        first = report.send_ledger(engine, issue.id or 0)
        p: dict[str, Any] = {"i": issue.id, "f": first, "n": count, "t": sent}
        with engine.begin() as conn:
            conn.execute(
                _timed(
                    "UPDATE issue_send SET started_at = :t, finished_at = :t WHERE issue_id = :i",
                    "t",
                ),
                p,
            )
        _step("the newest issue's ledger (snapshot_audience)")
        with engine.begin() as conn:
            report.add_events(conn, p, count)
        _step(f"{3 * count:,} delivery events")
        with engine.begin() as conn:
            report.add_activity(conn, p, count)
            add_link_clicks(conn, p)
            report.add_tallies(conn, p)
            apply_suppressions(conn, first, issue.number, sent)
        _step("activity, links, counters, suppressions")
        with engine.begin() as conn:
            ids = _issue_ids(conn)
            for n in range(1, EARLIER + 1):
                audience = count * (90 + 2 * (n - 1)) // 100 // 1000 * 1000 or 1000
                when = sent - timedelta(weeks=EARLIER + 1 - n)
                add_earlier_issue(conn, ids[n], first, audience, when)
        _step(f"{EARLIER} earlier issues")
        with engine.begin() as conn:
            add_pending(conn, count // 50, count, sent, int(timedelta(days=3).total_seconds()))
            for n, issue_id in _issue_ids(conn).items():
                add_votes(conn, issue_id, 50, sent - timedelta(weeks=issue.number - n))
        add_team(engine, now - timedelta(days=365), 365)
        with engine.begin() as conn:
            subscribers = int(conn.execute(text("SELECT COUNT(*) FROM subscriber")).scalar_one())
            events = int(conn.execute(text("SELECT COUNT(*) FROM delivery_event")).scalar_one())
        _step("pending sign-ups, votes, accounts, audit log")
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return Facts(
        size=count,
        subscribers=subscribers,
        events=events,
        issue_number=issue.number,
        earlier_numbers=list(range(1, EARLIER + 1)),
        subscriber_id=first,
        name_query="Grace",
        address_query=f"reader{count // 2 // 10}",
        build_seconds=round(time.perf_counter() - started, 1),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
