"""The one place that reads the environment (and `.env`)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsletter.errors import NewsletterError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"


class SettingsError(NewsletterError):
    """Configuration that cannot work; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production"] = "development"
    debug: bool = False
    database_url: str = f"sqlite:///{VAR_DIR / 'newsletter.db'}"
    content_dir: Path = PROJECT_ROOT / "content"
    templates_dir: Path = PROJECT_ROOT / "templates"
    backend: Literal["outbox", "sendgrid"] = "outbox"
    outbox_dir: Path = VAR_DIR / "outbox"
    preview_dir: Path = VAR_DIR / "preview"
    site_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    from_email: str = "verdicts@example.com"
    from_name: str = "Weekly AI Tool Verdicts"
    postal_address: str = "Weekly AI Tool Verdicts, 1 Example Street, Springfield 00000, USA"
    comparisons_per_issue: int = Field(default=3, ge=1, le=20)
    list_id: str = "weekly-ai-tool-verdicts.example.com"
    admin_token: str = ""
    # SendGrid (the sending issue); the API key keeps its vendor's customary name.
    sendgrid_api_key: str = Field(default="", validation_alias="SENDGRID_API_KEY")
    sendgrid_host: str = "https://api.sendgrid.com"

    @field_validator("site_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def secret(self) -> bytes:
        """The signing key; development generates one once and keeps it under var/."""
        if self.secret_key:
            return self.secret_key.encode()
        if self.environment == "production":
            raise SettingsError("NEWSLETTER_SECRET_KEY must be set in production")
        path = VAR_DIR / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
