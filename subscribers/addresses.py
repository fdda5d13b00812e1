"""Addresses and names as the list stores them: one spelling per mailbox, one hash per address.

An address is validated by email-validator (syntax only: no DNS, so imports and tests work
offline) and then lower-cased entirely. Providers treat the local part case-insensitively in
practice, and one spelling per mailbox is what makes `email` UNIQUE mean "one row per person".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

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


_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]"  # any other two-character escape
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the one-byte CSI of C1
)
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Marks that reorder the text around them: a name must not make a CLI line, a page or a
To: header read backwards (U+202E "right-to-left override")."""


def _printable(char: str) -> bool:
    """Kept in a name: not a control character (C0, C1, DEL), not a line or paragraph
    separator, not a bidi control, not a non-character or an unpaired surrogate. Joiners
    (U+200C, U+200D) stay: names and emoji in many scripts need them."""
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp", "Cs", "Cn", "Co"):
        return False
    return char not in _BIDI_CONTROLS


def clean_name(raw: str | None) -> str | None:
    """A name as every part of the service uses it: terminal escape sequences and control
    characters (CR, LF, NUL, ESC, ...) removed, runs of whitespace made one space, None if
    nothing is left. Cleaned once, where a name comes in (the form, an import, the CLI, the
    API); the clean value is what is stored, shown and sent."""
    if raw is None:
        return None
    without_escapes = _ESCAPE_SEQUENCE.sub("", raw)
    kept = "".join(c if _printable(c) else " " for c in without_escapes)
    return " ".join(kept.split()) or None


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
