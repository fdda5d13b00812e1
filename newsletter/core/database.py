"""Engines, sessions and schema upgrades for SQLite (embedded default) and PostgreSQL.

Development upgrades the schema on a process's first use of a database. Production
(`NEWSLETTER_ENVIRONMENT=production`) never does: a schema change is a deploy step
(`newsletter db upgrade`), so a process started on a database whose revision is not the
code's stops at once with one line saying which, instead of migrating under live traffic
(or running new code against old tables, or old code against a newer deploy's).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from newsletter.core.errors import Conflict
from newsletter.core.settings import PROJECT_ROOT, get_settings

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CHECKPOINT_PAGES = 10_000
POOL_SIZE = 16
"""Connections each process keeps open: a send's threads (12 by default), its heartbeat and
its main thread all hold one at times; fewer kept would open and close a connection for
every batch."""
POOL_OVERFLOW = 8
"""More connections opened under a burst (closed again after it): at most 24 a process."""
"""WAL pages (4 KB) before a commit copies them back into the database (SQLite's default
is 1,000). A 1,000-event webhook POST dirties ~2,500 pages, so the default checkpoints at
every POST and copies the same index pages again each time; every 10,000 copies each page
once per ~4 POSTs (events ingested ~10% faster at 100,000 recipients; the WAL file grows
to ~40 MB between checkpoints)."""

_engines: dict[str, Engine] = {}
_ready: set[str] = set()
"""URLs whose schema this process has upgraded (development) or checked (production)."""
_lock = threading.Lock()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off so that we can say
    # BEGIN IMMEDIATE for read-then-write transactions (see `begin` below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """A new engine; SQLite files get WAL, NORMAL sync, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for a URL (the configured one by default). On first use its
    schema is upgraded in development, and in production checked: a revision other than
    the code's raises `SchemaOutOfDate` (see the module docstring)."""
    settings = get_settings()
    url = url or settings.database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
    if url not in _ready:
        if settings.environment == "production":
            require_current_schema(engine)
        else:
            upgrade(engine)
        _ready.add(url)
    return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _ready.clear()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escaping
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    """The migrations folder, read once per process (a readiness probe asks often)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg)


def code_revision() -> str | None:
    """The newest revision this code knows: the one its tables are written for."""
    return _scripts().get_current_head()


def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


def head_revision(engine: Engine) -> str | None:
    """The code's revision (`engine` is not needed; kept for the callers that pass it)."""
    del engine
    return code_revision()


class SchemaOutOfDate(Conflict):
    """The database's schema revision is not the code's (behind or ahead): the process
    refuses to start rather than migrate or run against tables it was not written for."""


@dataclass(frozen=True)
class SchemaState:
    """A database's schema revision beside the code's."""

    database: str | None  # None: no schema at all (a new database)
    code: str | None

    @property
    def current(self) -> bool:
        return self.database == self.code

    @property
    def ahead(self) -> bool:
        """Migrated by code newer than this one: a revision this code does not know."""
        return self.database is not None and self.database not in known_revisions()

    def problem(self) -> str | None:
        """One line saying what is wrong and what to do; None when the revisions match."""
        if self.current:
            return None
        if self.ahead:
            return (
                f"database schema is at revision {self.database}, newer than this code's "
                f"{self.code} (a newer deploy migrated it): run that deploy's code, "
                "this one would misread its tables"
            )
        found = (
            "database has no schema yet"
            if self.database is None
            else f"database schema is at {self.database}"
        )
        return (
            f"{found}, this code needs revision {self.code}: "
            "run `newsletter db upgrade` (production never migrates by itself)"
        )


def schema_state(engine: Engine) -> SchemaState:
    return SchemaState(current_revision(engine), code_revision())


def require_current_schema(engine: Engine) -> None:
    """Raise `SchemaOutOfDate` unless the database's revision is the code's."""
    problem = schema_state(engine).problem()
    if problem is not None:
        raise SchemaOutOfDate(problem)


def upgrade(engine: Engine) -> bool:
    """Apply pending migrations; returns whether anything was applied. A database
    migrated by newer code is refused (`SchemaOutOfDate`): there is nothing to apply, and
    this code must not run on it."""
    state = schema_state(engine)
    if state.current:
        return False
    if state.ahead:
        raise SchemaOutOfDate(state.problem() or "")
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return True


def serialize(session: Session, name: str) -> None:
    """Make writers of `name` take turns until the transaction ends: a PostgreSQL advisory
    lock. SQLite needs nothing more than `session_scope(immediate=True)`."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def new_session(engine: Engine | None = None, *, immediate: bool = False) -> Session:
    """`session_scope`'s session, for a caller that ends it itself with `end_session` (the
    web app's dependencies, which end it in one trip to a worker thread). It holds no
    connection until its first statement."""
    engine = engine or get_engine()
    if immediate and is_sqlite(engine):
        engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    return Session(engine, expire_on_commit=False)


def end_session(session: Session, *, commit: bool) -> None:
    """Commit (or roll back) and close: the connection goes back to the pool either way."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


@contextmanager
def session_scope(engine: Engine | None = None, *, immediate: bool = False) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error.

    `immediate=True` takes SQLite's write lock at BEGIN, so a read-then-write
    transaction cannot fail half-way on a lock upgrade; PostgreSQL ignores it.
    """
    session = new_session(engine, immediate=immediate)
    try:
        yield session
    except BaseException:
        end_session(session, commit=False)
        raise
    end_session(session, commit=True)
