"""Addresses and names as the list stores them: one spelling per mailbox, one hash per address.

An address is validated by email-validator (syntax only: no DNS, so imports and tests work
offline) and then lower-cased entirely. Providers treat the local part case-insensitively in
practice, and one spelling per mailbox is what makes `email` UNIQUE mean "one row per person".
"""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email

from newsletter.core.text import without_controls
from subscribers.errors import (
    InvalidSubscriberInput,
)

EMAIL_MAX = 320  # subscriber.email is VARCHAR(320): 64 + @ + 255
NAME_MAX = 200  # subscriber.name is VARCHAR(200)


class InvalidAddress(InvalidSubscriberInput):
    """The text is not an email address; the message is the validator's reason."""


class InvalidName(InvalidSubscriberInput):
    """The name cannot be stored (too long)."""


def normalize_email(raw: str) -> str:
    """The stored spelling of an address, or InvalidAddress with a short reason.

    Surrounding whitespace is dropped first: it comes from spreadsheets and forms, never from
    the address itself.
    """
    candidate = raw.strip()
    if not candidate:
        raise InvalidAddress("not a valid address: it is empty")
    try:
        validated = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"not a valid address: {exc}") from None
    return validated.normalized.lower()


def normalized_hash(normalized: str) -> str:
    """SHA-256 hex of an address that is already normalised (the importer's fast path)."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def address_hash(email: str) -> str:
    """The tombstone key: SHA-256 hex of the normalised address, so no address is kept."""
    return normalized_hash(normalize_email(email))


def clean_name(raw: str | None) -> str | None:
    """A name as every part of the service uses it: terminal escape sequences, control
    characters (CR, LF, NUL, ESC...), bidi controls and invisible format characters removed
    (`newsletter.core.text` says which), runs of whitespace made one space, None if nothing
    is left. Cleaned once, where a name comes in (the form, an import, the CLI, the API);
    the clean value is what is stored, shown, exported and sent."""
    if raw is None:
        return None
    return without_controls(raw) or None


def normalize_name(raw: str | None) -> str | None:
    """An operator's name (CLI, API, import): cleaned, or InvalidName if it is longer than
    the column; None if blank."""
    name = clean_name(raw)
    if name is not None and len(name) > NAME_MAX:
        raise InvalidName(f"name is too long ({len(name)} characters, at most {NAME_MAX})")
    return name


def form_name(raw: str | None) -> str | None:
    """A visitor's name from the public form: cleaned and cut to the column (a visitor's
    over-long name is not worth an error page; operators' tools refuse it instead)."""
    name = clean_name(raw)
    if name is None:
        return None
    return name[:NAME_MAX].rstrip()
