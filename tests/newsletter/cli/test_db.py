"""`newsletter db upgrade`: applying the migrations is safe to repeat; it is the one step
that migrates in production, where every other command refuses a database whose schema is
not the code's."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.database import alembic_config, code_revision, current_revision
from newsletter.core.settings import Settings, get_settings

runner = CliRunner()
NEWSLETTER = [sys.executable, "-c", "from newsletter.cli.main import main; main()"]


def test_upgrade_twice_changes_nothing_the_second_time(env: Settings) -> None:
    first = runner.invoke(app, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0, again.output
    assert again.output.strip() == "schema is up to date"


# -- production never migrates by itself


def _downgrade_one_step(engine: Engine) -> str:
    """Put the database one revision behind the code (a deploy of new code, not yet
    migrated); returns the revision it is at."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    behind = current_revision(engine)
    assert behind is not None
    assert behind != code_revision()
    return behind


@pytest.fixture
def production(env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSLETTER_ENVIRONMENT", "production")
    get_settings.cache_clear()
    return env


def test_serve_in_production_refuses_a_database_behind_the_code(
    production: Settings, engine: Engine
) -> None:
    """The real command in its own process: one line on stderr, no traceback, exit 1, and
    nothing migrated. (The host cannot be bound, so a `serve` that wrongly went on to start
    would fail on that instead of hanging the run.)"""
    behind = _downgrade_one_step(engine)
    ran = subprocess.run(
        [*NEWSLETTER, "serve", "--host", "256.0.0.1", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert f"is at {behind}, this code needs revision {code_revision()}" in lines[0]
    assert "run `newsletter db upgrade`" in lines[0]
    assert current_revision(engine) == behind


@pytest.mark.parametrize("command_line", [["scheduler", "--once"], ["subscribers", "stats"]])
def test_other_commands_in_production_refuse_it_too(
    production: Settings, engine: Engine, command_line: list[str]
) -> None:
    behind = _downgrade_one_step(engine)
    ran = runner.invoke(app, command_line)
    assert ran.exit_code == 1, ran.output
    assert ran.output.count("\n") == 1, ran.output
    assert f"is at {behind}, this code needs revision {code_revision()}" in ran.output
    assert current_revision(engine) == behind


def test_production_refuses_a_database_migrated_by_newer_code(
    production: Settings, engine: Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    for command_line in (["scheduler", "--once"], ["db", "upgrade"]):
        ran = runner.invoke(app, command_line)
        assert ran.exit_code == 1, ran.output
        assert "at revision 9999, newer than this code's" in ran.output
    assert current_revision(engine) == "9999"


def test_db_upgrade_is_the_deploy_step_then_production_starts(
    production: Settings, engine: Engine
) -> None:
    behind = _downgrade_one_step(engine)
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 1
    assert f"database revision: {behind}" in status.output
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert current_revision(engine) == code_revision()
    assert runner.invoke(app, ["subscribers", "stats"]).exit_code == 0
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 0, status.output
    assert "schema is up to date" in status.output


def test_development_still_upgrades_on_first_use(env: Settings, engine: Engine) -> None:
    _downgrade_one_step(engine)
    ran = runner.invoke(app, ["subscribers", "stats"])
    assert ran.exit_code == 0, ran.output
    assert current_revision(engine) == code_revision()


def test_production_refuses_an_empty_database_until_it_is_upgraded(production: Settings) -> None:
    ran = runner.invoke(app, ["subscribers", "stats"])
    assert ran.exit_code == 1, ran.output
    assert ran.output.startswith(
        f"error: database has no schema yet, this code needs revision {code_revision()}: "
        "run `newsletter db upgrade`"
    )
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["subscribers", "stats"]).exit_code == 0
