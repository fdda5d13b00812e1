"""Shared fixtures: a real SQLite file and, when NEWSLETTER_TEST_DATABASE_URL is set, a real
PostgreSQL schema of its own per test; settings that point at temporary folders."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from newsletter.core.database import dispose_engines, make_engine, upgrade
from newsletter.core.logs import StderrHandler
from newsletter.core.settings import PROJECT_ROOT, Settings, get_settings

PG_URL = os.environ.get("NEWSLETTER_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"]


def _pg_base_url() -> str:
    url = make_url(PG_URL)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _empty_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("env") / "empty.env"
    path.write_text("")
    return path


@pytest.fixture(autouse=True)
def _no_developer_env_file(monkeypatch: pytest.MonkeyPatch, _empty_env_file: Path) -> None:
    """The developer's own `.env` (a real SendGrid key, a production database) must never
    reach a test, nor a command a test starts: settings read an empty file instead. The
    tests of the `.env` rules set or remove the variable themselves."""
    monkeypatch.setenv("NEWSLETTER_ENV_FILE", str(_empty_env_file))


@pytest.fixture(autouse=True)
def _no_logging_configuration_left_behind() -> Iterator[None]:
    """A long-running command run in-process (`scheduler`, `worker` through the CLI runner)
    configures the root logger for its process; the tests after it must not inherit that
    (a command that logs one line of its own would print the root handler's traceback)."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxy variables apply to urllib (so to the sendgrid client) and to httpx: every
    test talks to servers on loopback only."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not PG_URL:
        pytest.skip("NEWSLETTER_TEST_DATABASE_URL is not set (no PostgreSQL for this run)")
    base = _pg_base_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        content_dir=PROJECT_ROOT / "content",
        outbox_dir=tmp_path / "outbox",
        secret_key="test-secret-key-" + "x" * 32,
        site_url="https://verdicts.example.com",
        postal_address="Verdicts Ltd, 12 Test Lane, Testville 12345",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Settings]:
    """The same settings, through the environment, for code that reads get_settings()."""
    for name, value in {
        "NEWSLETTER_DATABASE_URL": settings.database_url,
        "NEWSLETTER_CONTENT_DIR": str(settings.content_dir),
        "NEWSLETTER_OUTBOX_DIR": str(settings.outbox_dir),
        "NEWSLETTER_SECRET_KEY": settings.secret_key,
        "NEWSLETTER_SITE_URL": settings.site_url,
        "NEWSLETTER_POSTAL_ADDRESS": settings.postal_address,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    dispose_engines()
    yield settings
    get_settings.cache_clear()
    dispose_engines()


@contextmanager
def serve(app: Any, **options: Any) -> Iterator[int]:
    """Run an ASGI app under uvicorn on a free loopback port until the block ends, with its
    lifespan (the app's sign-up dispatcher runs, as under `newsletter serve`); `options`
    go to uvicorn's Config (`forwarded_allow_ips=...`)."""
    import socket
    import threading

    import uvicorn

    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on connections whose protocol
    # says TCP, and without it every answer waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", **{"lifespan": "on", **options})
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def live_app(settings: Settings, engine: Engine) -> Iterator[str]:
    """The real FastAPI app under uvicorn on a loopback port; yields its base URL."""
    from newsletter.web.app import create_app

    settings.admin_token = "admin-test-token"
    with serve(create_app(settings, engine)) as port:
        settings.site_url = f"http://127.0.0.1:{port}"
        yield settings.site_url
