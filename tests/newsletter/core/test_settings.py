"""The one settings object: a bad value is one line naming the variable, and production
refuses to run without a secret."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.core import settings as settings_module
from newsletter.core.errors import InvalidInput
from newsletter.core.settings import Settings, SettingsError, get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield None
    get_settings.cache_clear()


def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SEND_CONCURRENCY", "0")

    with pytest.raises(SettingsError) as raised:
        get_settings()

    message = str(raised.value)
    assert message.startswith("NEWSLETTER_SEND_CONCURRENCY: ")
    assert "'0'" in message
    assert "\n" not in message
    assert isinstance(raised.value, InvalidInput)


def test_production_refuses_to_run_without_a_secret() -> None:
    settings = Settings(_env_file=None, environment="production", secret_key="")  # type: ignore[call-arg]

    with pytest.raises(SettingsError, match="NEWSLETTER_SECRET_KEY must be set in production"):
        settings.secret()


def test_the_site_url_is_kept_without_a_trailing_slash() -> None:
    settings = Settings(_env_file=None, site_url="https://verdicts.example.com/")  # type: ignore[call-arg]

    assert settings.site_url == "https://verdicts.example.com"


def test_env_is_read_from_the_project_root_wherever_the_command_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root_env = tmp_path / "project" / ".env"
    root_env.parent.mkdir()
    root_env.write_text("NEWSLETTER_BACKEND=sendgrid\nSENDGRID_API_KEY=SG.from-the-file\n")
    elsewhere = tmp_path / "cron"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("NEWSLETTER_BACKEND=outbox\n")  # not this one
    monkeypatch.setattr(settings_module, "ENV_FILE", root_env)
    monkeypatch.delenv("NEWSLETTER_BACKEND", raising=False)
    monkeypatch.delenv("NEWSLETTER_ENV_FILE", raising=False)
    monkeypatch.chdir(elsewhere)

    settings = get_settings()

    assert settings.backend == "sendgrid"
    assert settings.sendgrid_api_key == "SG.from-the-file"


def test_newsletter_env_file_names_another_file_and_the_environment_still_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    named = tmp_path / "production.env"
    named.write_text("NEWSLETTER_BACKEND=sendgrid\nNEWSLETTER_BATCH_SIZE=500\n")
    monkeypatch.setenv("NEWSLETTER_ENV_FILE", str(named))
    monkeypatch.setenv("NEWSLETTER_BATCH_SIZE", "250")
    monkeypatch.delenv("NEWSLETTER_BACKEND", raising=False)
    monkeypatch.chdir(tmp_path)

    settings = get_settings()

    assert (settings.backend, settings.batch_size) == ("sendgrid", 250)


def test_a_missing_env_file_is_named_not_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEWSLETTER_ENV_FILE", str(tmp_path / "nowhere.env"))

    with pytest.raises(
        SettingsError, match=r"^NEWSLETTER_ENV_FILE: no such file '.*nowhere\.env'$"
    ):
        get_settings()


def test_a_command_started_from_another_folder_uses_the_named_env_file(tmp_path: Path) -> None:
    """The whole way through: a cron job's `newsletter db upgrade` in another folder
    creates the database the env file names, not the default one under var/."""
    database = tmp_path / "from-env-file.db"
    named = tmp_path / "cron.env"
    named.write_text(f"NEWSLETTER_DATABASE_URL=sqlite:///{database}\n")
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    environ["NEWSLETTER_ENV_FILE"] = str(named)

    done = subprocess.run(
        [str(Path(sys.executable).with_name("newsletter")), "db", "upgrade"],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert database.is_file()


def test_relative_paths_are_the_projects_wherever_the_command_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    named = tmp_path / "cron.env"
    named.write_text(
        "NEWSLETTER_CONTENT_DIR=content\nNEWSLETTER_OUTBOX_DIR=var/outbox\n"
        "NEWSLETTER_DATABASE_URL=sqlite:///var/cron.db\n"
    )
    monkeypatch.setenv("NEWSLETTER_ENV_FILE", str(named))
    for name in ("NEWSLETTER_CONTENT_DIR", "NEWSLETTER_OUTBOX_DIR", "NEWSLETTER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    settings = get_settings()

    assert settings.content_dir == settings_module.PROJECT_ROOT / "content"
    assert settings.outbox_dir == settings_module.PROJECT_ROOT / "var" / "outbox"
    assert settings.database_url == f"sqlite:///{settings_module.PROJECT_ROOT / 'var/cron.db'}"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"NEWSLETTER_FROM_NAME=x\nNEWSLETTER_BACKEND sendgrid\n", r":2: not a NAME=value line"),
        (b'NEWSLETTER_FROM_NAME="Weekly\nNEWSLETTER_BACKEND=sendgrid\n', r":1: not a NAME=value"),
        (b"# ok\nNEWSLETTER_FROM_NAME=caf\xe9\n", r":2: not UTF-8 text"),
    ],
)
def test_an_env_file_read_only_in_part_is_refused_at_its_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes, says: str
) -> None:
    """python-dotenv skips a line it cannot parse and its setting falls back to the
    default: the outbox instead of SendGrid. Refused instead, naming the file and line."""
    named = tmp_path / "broken.env"
    named.write_bytes(content)
    monkeypatch.setenv("NEWSLETTER_ENV_FILE", str(named))

    with pytest.raises(SettingsError, match=re.escape(str(named)) + says) as raised:
        get_settings()

    assert "\n" not in str(raised.value)


def test_a_bad_value_from_the_env_file_says_it_came_from_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    named = tmp_path / "cron.env"
    named.write_text("NEWSLETTER_BATCH_SIZE=lots\n")
    monkeypatch.setenv("NEWSLETTER_ENV_FILE", str(named))
    monkeypatch.delenv("NEWSLETTER_BATCH_SIZE", raising=False)

    with pytest.raises(SettingsError, match=f"^NEWSLETTER_BATCH_SIZE in {re.escape(str(named))}: "):
        get_settings()


def test_the_null_device_means_no_env_file_at_all(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root_env = tmp_path / ".env"
    root_env.write_text("NEWSLETTER_BACKEND=sendgrid\n")
    monkeypatch.setattr(settings_module, "ENV_FILE", root_env)
    monkeypatch.setenv("NEWSLETTER_ENV_FILE", os.devnull)
    monkeypatch.delenv("NEWSLETTER_BACKEND", raising=False)

    assert get_settings().backend == "outbox"
