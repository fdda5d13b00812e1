"""`/healthz` and `/readyz` over real HTTP, the real app under uvicorn: the first answers
whenever the process does; the second only when the database answers and its schema is the
code's, else 503 with a one-line reason."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import Engine, text

from newsletter.core.database import alembic_config, code_revision, make_engine
from newsletter.core.settings import PROJECT_ROOT, Settings
from newsletter.web.app import create_app
from tests.conftest import serve


@contextmanager
def _probe(engine: Engine, settings: Settings) -> Iterator[httpx.Client]:
    with (
        serve(create_app(settings, engine)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as http,
    ):
        yield http


def test_both_answer_200_when_all_is_well(http: httpx.Client) -> None:
    health = http.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = http.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert http.head("/readyz").status_code == 200


def test_readyz_is_503_when_the_schema_is_behind(engine: Engine, settings: Settings) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    with _probe(engine, settings) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        reason = ready.json()["reason"]
        assert f"this code needs revision {code_revision()}" in reason
        assert "newsletter db upgrade" in reason
        assert "\n" not in reason
        assert http.get("/healthz").status_code == 200
    with engine.connect() as conn:  # the probe changed nothing
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() != (
            code_revision()
        )


def _closed_port_postgresql(_tmp: Path) -> Engine:
    """A PostgreSQL URL where nothing listens: the port of a socket just closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/gone")


def _sqlite_in_a_removed_folder(tmp: Path) -> Engine:
    folder = tmp / "data"
    engine = make_engine(f"sqlite:///{folder / 'newsletter.db'}")  # makes the folder
    folder.rmdir()
    return engine


@pytest.mark.parametrize("down", [_closed_port_postgresql, _sqlite_in_a_removed_folder])
def test_readyz_is_503_when_the_database_is_down(
    tmp_path: Path, down: Callable[[Path], Engine]
) -> None:
    engine = down(tmp_path)
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        content_dir=PROJECT_ROOT / "content",
        outbox_dir=tmp_path / "outbox",
        secret_key="test-secret-key-" + "x" * 32,
        _env_file=None,  # type: ignore[call-arg]
    )
    try:
        with _probe(engine, settings) as http:
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json() == {
                "status": "unavailable",
                "reason": "database does not answer (OperationalError)",
            }
            assert http.get("/healthz").json() == {"status": "ok"}
    finally:
        engine.dispose()


def test_readyz_is_200_when_a_newer_deploy_has_migrated(engine: Engine, settings: Settings) -> None:
    """Mid-deploy: the migration ran, this (older) process is about to be restarted. It
    keeps answering (migrations only add while old code runs), so it stays in rotation."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with _probe(engine, settings) as http:
        ready = http.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
