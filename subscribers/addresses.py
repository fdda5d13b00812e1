"""Addresses and names as the list stores them: one spelling per mailbox, one hash per address.

An address is validated by email-validator (syntax only: no DNS, so imports and tests work
offline) and then lower-cased entirely. Providers treat the local part case-insensitively in
practice, and one spelling per mailbox is what makes `email` UNIQUE mean "one row per person".

email-validator looks at every character of an address several times in Python (Unicode
categories, UTS-46 rules, a normalisation per character while splitting at the @-sign):
about 60% of a large import's time. Most addresses are plain ASCII that the library accepts
unchanged but for the domain's case, so `_plain` accepts those by a narrower rule checked in
one regular expression and a few comparisons, and gives everything else (anything it cannot
prove valid) to email-validator: the verdict, the reason of a refusal and the stored spelling
are the library's for every input (tests/subscribers/test_addresses.py compares the two on
generated and known tricky addresses).
"""

from __future__ import annotations

import hashlib
import re

import email_validator
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


# What `_plain` accepts, in email-validator's own terms (2.x, `syntax.py`): a local part of
# RFC 5322 atext in dot-atom form (its DOT_ATOM_TEXT, returned unchanged), one @-sign, and a
# domain of at least two RFC 952 labels (letters, digits, inner hyphens; its
# DOT_ATOM_TEXT_HOSTNAME) whose last one ends with a letter (its DOMAIN_NAME_REGEX). All ASCII:
# so no display name, no quotes, no Unicode normalisation, no IDNA; UTS-46 only lower-cases.
_ATEXT = r"[A-Za-z0-9_!#$%&'*+\-/=?^`{|}~]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # at most 63 characters
_PLAIN = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+(?:[A-Za-z0-9][A-Za-z0-9-]{{0,61}})?[A-Za-z]"
)
_ADDRESS_MAX = 254  # email_validator's EMAIL_MAX_LENGTH
_DOMAIN_MAX = 253  # its DOMAIN_MAX_LENGTH (a label's 63 is in the pattern)
# ".local" for "local": "." + domain ends with one if the domain is that name or under it.
_SPECIAL_USE = tuple("." + name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)


def _plain(candidate: str) -> str | None:
    """The stored spelling of a plain ASCII address that email-validator accepts, or None
    where that is not plain to see (the library then decides). Never None for a refusal's
    sake alone: None means "ask the library", not "invalid"."""
    if len(candidate) > _ADDRESS_MAX or not _PLAIN.fullmatch(candidate):
        return None
    lowered = candidate.lower()
    domain = lowered[lowered.index("@") + 1 :]
    if len(domain) > _DOMAIN_MAX or "--" in domain:  # "--": R-LDH labels, Punycode
        return None
    if ("." + domain).endswith(_SPECIAL_USE):
        return None
    return lowered


def normalize_email(raw: str) -> str:
    """The stored spelling of an address, or InvalidAddress with a short reason.

    Surrounding whitespace is dropped first: it comes from spreadsheets and forms, never from
    the address itself.
    """
    candidate = raw.strip()
    if not candidate:
        raise InvalidAddress("not a valid address: it is empty")
    plain = _plain(candidate)
    if plain is not None:
        return plain
    return validated_email(candidate)


def validated_email(candidate: str) -> str:
    """The stored spelling of `candidate` (stripped, not empty) by email-validator alone:
    what `normalize_email` gives for every address, more slowly."""
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
