"""The desk's tables: accounts, their open sessions, failed sign-ins, and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from newsletter.core.clock import utcnow

EMAIL_MAX = 254


class Account(SQLModel, table=True):
    """A member of the team. Never deleted (the audit log names them): disabled instead."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=EMAIL_MAX)  # normalised, lower case
    role: str = Field(max_length=10)
    password_hash: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    password_changed_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


class AccountSession(SQLModel, table=True):
    """One signed-in browser. The cookie holds the token (signed, with the time it was last
    used); the table holds only its SHA-256, so a copy of the database signs no one in.
    Deleted at sign-out, and for every session of an account that is disabled, changes
    role or gets a new password."""

    __tablename__ = "account_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    account_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class SignInFailure(SQLModel, table=True):
    """A failed sign-in for an address, whether or not an account has it (so the lock
    says nothing about which addresses have accounts)."""

    __tablename__ = "sign_in_failure"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX, index=True)
    at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Who did what, when. `actor` is the account's address when it was done (kept if the
    account changes); none for the command line and the system."""

    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    account_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("account.id", ondelete="SET NULL"), nullable=True),
    )
    actor: str = Field(max_length=EMAIL_MAX)
    action: str = Field(max_length=40, index=True)
    target: str = Field(default="", max_length=300)
    detail: str = Field(default="", max_length=1000)
