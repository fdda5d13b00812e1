"""The one place that reads the environment (and `.env`).

`.env` is found by path, not by the working directory: the project root's, or the file
named by `NEWSLETTER_ENV_FILE`. A cron job started from another folder reads the same
settings as the editor's shell, so it cannot quietly fall back to the defaults (and send
approved issues to the outbox instead of SendGrid).
"""

from __future__ import annotations

import io
import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from dotenv.parser import parse_stream
from limits import parse_many
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from newsletter.core.errors import InvalidInput
from newsletter.core.keyfile import shared_key

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VAR_DIR = PROJECT_ROOT / "var"
ENV_FILE = PROJECT_ROOT / ".env"
ENV_FILE_VARIABLE = "NEWSLETTER_ENV_FILE"


class SettingsError(InvalidInput):
    """Configuration that cannot work; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_", env_file=None, env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production"] = "development"
    debug: bool = False
    database_url: str = f"sqlite:///{VAR_DIR / 'newsletter.db'}"
    content_dir: Path = PROJECT_ROOT / "content"
    templates_dir: Path = PROJECT_ROOT / "templates"
    backend: str = "outbox"
    """A provider named in `newsletter.delivery.registry` (checked when the backend is made)."""
    outbox_dir: Path = VAR_DIR / "outbox"
    preview_dir: Path = VAR_DIR / "preview"
    site_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    secret_key_file: Path = VAR_DIR / "secret_key"
    """Where development keeps the key it makes itself when `secret_key` is not set."""
    from_email: str = "verdicts@example.com"
    from_name: str = "Weekly AI Tool Verdicts"
    postal_address: str = "Weekly AI Tool Verdicts, 1 Example Street, Springfield 00000, USA"
    comparisons_per_issue: int = Field(default=3, ge=1, le=20)
    list_id: str = "weekly-ai-tool-verdicts.example.com"
    admin_token: str = ""
    # SendGrid (the sending issue); the API key keeps its vendor's customary name.
    sendgrid_api_key: str = Field(default="", validation_alias="SENDGRID_API_KEY")
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_timeout: float = Field(default=30.0, gt=0)
    """Seconds the client waits on each socket operation; the package waits forever."""
    # Sending (newsletter/sending/). A batch_size above what the backend takes (SendGrid:
    # 1,000) is refused when a send starts.
    batch_size: int = Field(default=1000, ge=1)
    send_concurrency: int = Field(default=12, ge=1, le=64)
    """Requests in flight per sender. SendGrid answers in about 300 ms: twelve send a
    million recipients in under a minute there (four: about 150 s); each request in flight
    holds about 4 MB of the sender's memory while its body is ~900 KB, and sixteen took a
    send to within 10 MB of its 300 MB budget for 8% more speed."""
    send_build_processes: int | None = Field(default=None, ge=0, le=32)
    """Processes that build SendGrid requests (tokens, JSON) beside the sending threads,
    for sends of 50,000 recipients or more; 0 builds them in the threads; unset: one when
    the machine has two cores or more."""
    send_max_attempts: int = Field(default=5, ge=1)
    """Requests per batch per run for answers that are safe to repeat (429, 5xx, refused)."""
    send_retry_base: float = Field(default=1.0, ge=0)
    send_retry_max: float = Field(default=60.0, ge=0)
    send_lease: float = Field(default=60.0, gt=0)
    """Seconds an in-flight batch stays its sender's without a heartbeat."""

    # The scheduler (scheduler/).
    schedule: str = "0 8 * * mon"
    """Five-field cron expression for the weekly job, read in `timezone`."""
    timezone: str = "UTC"
    misfire_grace: timedelta = timedelta(hours=6)
    """A weekly run missed by less than this is caught up once; later ones are skipped."""
    auto_send: bool = False
    """Send the weekly issue as soon as it is built; otherwise it waits for approval."""
    pending_expiry_days: int = Field(default=14, ge=1)
    """Drop pending subscribers this many days after their unanswered confirmation email."""

    # The sign-up form (newsletter/web/pages/signup.py, newsletter/sending/signup_queue.py).
    signup_limit_per_client: str = "5/minute;20/hour"
    """Posts of the form one client address may make (an IPv6 client counts by its /64),
    in the `limits` notation: rates separated by `;`, each `N/second|minute|hour|day`.
    Empty: no limit."""
    signup_limit_total: str = "300/minute"
    """Posts of the form the whole app process takes, whoever sends them; empty: no limit."""
    signup_queue_max: int = Field(default=10_000, ge=1)
    """Sign-up requests waiting for their confirmation email; past this the form answers
    503 until the queue drains."""

    # The event webhook and what events do (newsletter/tracking/).
    sendgrid_webhook_public_key: str = Field(
        default="", validation_alias="SENDGRID_WEBHOOK_PUBLIC_KEY"
    )
    """The key SendGrid signs its events with (base64 DER, as its settings page shows it).
    Empty: POST /webhooks/sendgrid answers 503 and stores nothing."""
    webhook_max_age: int = Field(default=600, ge=1)
    """Seconds a signed webhook request stays acceptable (older: a replay, refused)."""
    settle_after: timedelta = timedelta(hours=2)
    """How long an `unknown` batch's recipients may wait for any event before `issue
    status` lists them for `issue resend-unknown`."""
    tracking: Literal["on", "off"] = "on"
    """`on`: the provider's open and click tracking are enabled in every request and opens
    and clicks are stored; `off`: both disabled in every request, none stored."""
    soft_bounce_limit: int = Field(default=3, ge=1)
    soft_bounce_window: int = Field(default=5, ge=1)
    """An address soft-bounced in `soft_bounce_limit` of the last `soft_bounce_window`
    issues sent to it (counted since its last delivery) is suppressed as bounced."""
    pause_min_delivered: int = Field(default=1000, ge=1)
    pause_hard_bounce_rate: float = Field(default=0.05, gt=0, le=1)
    pause_complaint_rate: float = Field(default=0.001, gt=0, le=1)
    """A send pauses itself (cause `deliverability`) once `pause_min_delivered` recipients
    are delivered and hard bounces or spam reports pass these shares of delivered."""

    # The operators' desk (newsletter/web/admin/, newsletter/accounts/).
    admin_idle_timeout: timedelta = timedelta(hours=12)
    """A desk session not used for this long is signed out."""
    signin_max_failures: int = Field(default=5, ge=1)
    signin_lock: timedelta = timedelta(minutes=15)
    """`signin_max_failures` failed sign-ins for one address within `signin_lock` lock it
    for `signin_lock` from the last of them (whether or not an account has that address)."""
    signin_limit_per_client: str = "10/minute;100/hour"
    """Posts of the desk's sign-in form one client address (IPv6: its /64) may make, in
    the `limits` notation of `signup_limit_per_client`; over it: 429. Empty: no limit."""

    # Running it for real (docs/deploy.md).
    log_format: Literal["text", "json"] = "text"
    """How `serve`, `worker` and `scheduler` log: `text` lines for a terminal, or `json`,
    one JSON object per line for a log collector."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve `/metrics` on this port of its own (no token: keep it off public networks);
    unset: `/metrics` is on the app itself, behind the admin token."""
    metrics_host: str = "127.0.0.1"
    """The address the `metrics_port` listener binds (loopback unless Prometheus scrapes
    from another host: then that interface, with the port firewalled to it)."""
    worker_poll: float = Field(default=1.0, gt=0)
    """Seconds `newsletter worker` waits between looks for an issue being sent."""
    metrics_dir: Path | None = Field(default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR")
    """A folder where every process of this machine keeps its counters for `/metrics`
    (prometheus_client's multiprocess mode; keep it on a tmpfs cleared at boot). Unset:
    `serve` makes a private one for its own workers, other processes count in memory."""
    send_detach: bool = False
    """The scheduler starts its sends and leaves them to `newsletter worker` processes
    instead of sending in its own process."""

    @field_validator("signup_limit_per_client", "signup_limit_total", "signin_limit_per_client")
    @classmethod
    def _rates(cls, value: str) -> str:
        """Checked when read, so a typo is one line at start rather than a 500 per post."""
        if value.strip():
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(
                    "not a rate such as 5/minute, or several separated by ; "
                    "(5/minute;20/hour); empty for no limit"
                ) from None
        return value.strip()

    @field_validator(
        "misfire_grace", "settle_after", "admin_idle_timeout", "signin_lock", mode="before"
    )
    @classmethod
    def _seconds_or_duration(cls, value: object) -> object:
        """'21600' (seconds), 'PT6H' (ISO 8601) and '06:00:00' all mean six hours."""
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value

    @field_validator("site_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("content_dir", "templates_dir", "outbox_dir", "preview_dir", "secret_key_file")
    @classmethod
    def _from_project_root(cls, value: Path) -> Path:
        """A relative folder is the project's, wherever the command runs (a cron job)."""
        value = value.expanduser()
        return value if value.is_absolute() else PROJECT_ROOT / value

    @field_validator("database_url")
    @classmethod
    def _sqlite_file_from_project_root(cls, value: str) -> str:
        """`sqlite:///var/x.db` is the project's `var/x.db`, wherever the command runs."""
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL such as sqlite:///var/newsletter.db") from None
        database = url.database or ""
        if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
            return value
        if database.startswith("file:") or Path(database).is_absolute():
            return value
        return url.set(database=str(PROJECT_ROOT / database)).render_as_string(hide_password=False)

    def secret(self) -> bytes:
        """The signing key; development makes one once and keeps it in `secret_key_file`
        (var/secret_key): created whole and private, and the same for processes that start
        together (see `keyfile`)."""
        if self.secret_key:
            return self.secret_key.encode()
        if self.environment == "production":
            raise SettingsError("NEWSLETTER_SECRET_KEY must be set in production")
        return shared_key(self.secret_key_file)


def env_file() -> Path | None:
    """The `.env` to read: `NEWSLETTER_ENV_FILE` (which must exist), else the project
    root's when there is one. Either is checked whole first (`check_env_file`)."""
    named = os.environ.get(ENV_FILE_VARIABLE, "").strip()
    if named:
        path = Path(named).expanduser()
        if path == Path(os.devnull):
            return None  # read no file at all, not even the project's
        if not path.is_file():
            raise SettingsError(f"{ENV_FILE_VARIABLE}: no such file {str(path)!r}")
    elif ENV_FILE.is_file():
        path = ENV_FILE
    else:
        return None
    check_env_file(path)
    return path


def check_env_file(path: Path) -> None:
    """Refuse a file that would be read only in part: python-dotenv skips a line it cannot
    parse with a warning, and the setting on it quietly falls back to its default (the
    outbox instead of SendGrid, say). One line naming the file and the line instead."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SettingsError(f"{path}:{line}: not UTF-8 text") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise SettingsError(
                f"{path}:{binding.original.line}: not a NAME=value line "
                "(a value with spaces needs quotes, and every quote its closing one)"
            )


def _variable(loc: tuple[int | str, ...]) -> str:
    name = "NEWSLETTER_" + "_".join(str(p) for p in loc).upper()
    return "SENDGRID_API_KEY" if name == "NEWSLETTER_SENDGRID_API_KEY" else name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment and `.env` (the environment wins); a bad value is
    one line naming it."""
    path = env_file()
    try:
        return Settings(_env_file=path)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = _variable(first["loc"])
        where = f" in {path}" if path is not None and name not in os.environ else ""
        raise SettingsError(f"{name}{where}: {first['msg']} (got {first.get('input')!r})") from None
