"""Addresses: validated, normalised and lower-cased once, or refused with the reason; names\ncleaned once where they come in."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsletter.core.text import BIDI_CONTROLS
from subscribers.addresses import (
    NAME_MAX,
    InvalidAddress,
    InvalidName,
    address_hash,
    clean_name,
    form_name,
    normalize_email,
    normalize_name,
)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("ada@example.com", "ada@example.com"),
        ("Ada.Lovelace@Example.COM", "ada.lovelace@example.com"),
        ("  ADA@EXAMPLE.COM\t", "ada@example.com"),
        ("Zoë@Exämple.com", "zoë@exämple.com"),
        ("-dash+tag@example.com", "-dash+tag@example.com"),
    ],
)
def test_addresses_are_validated_then_lower_cased(raw: str, stored: str) -> None:
    assert normalize_email(raw) == stored
    assert address_hash(raw) == hashlib.sha256(stored.encode()).hexdigest()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "it is empty"),
        ("ada", "must have an @-sign"),
        ("ada@example", "It should have a period"),
        ("ada lovelace@example.com", "invalid characters"),
        ("ada@example.com\nBcc: x@example.com", "invalid characters"),
    ],
)
def test_bad_addresses_are_refused_with_the_validators_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidAddress, match=r"^not a valid address: ") as caught:
        normalize_email(raw)
    assert reason in str(caught.value)


def test_an_address_is_taken_as_written() -> None:
    """A leading ' is part of a mailbox's name, never a mark to strip."""
    assert normalize_email("'lead@example.com") == "'lead@example.com"
    assert normalize_email("'lead@example.com") != normalize_email("lead@example.com")


# -- names ------------------------------------------------------------------------------

hostile_names = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from(["\x1b", "[", "]", "\x07", "\r", "\n", "\x00", "\u202e", "\ufeff", " "]),
    )
)


@given(hostile_names)
def test_a_clean_name_holds_no_control_and_cleaning_twice_changes_nothing(raw: str) -> None:
    name = clean_name(raw)
    if name is None:
        return
    assert name
    for char in name:
        assert unicodedata.category(char) not in ("Cc", "Zl", "Zp", "Cs"), repr(char)
        assert char not in BIDI_CONTROLS
        assert char != "\ufeff"
    assert name == " ".join(name.split())
    assert clean_name(name) == name
    assert form_name(raw) == form_name(name)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (None, None),
        ("   ", None),
        ("\x1b[31m\x00\r\n", None),
        ("Ada\r\nBcc: eve@example.com", "Ada Bcc: eve@example.com"),
        ("\x1b]0;owned\x07Eve\x1b[2J", "Eve"),
        ("Nu\x00ll", "Null"),
        ("Lovelace, Ada; Countess", "Lovelace, Ada; Countess"),  # kept: only SendGrid minds
    ],
)
def test_names_are_cleaned(raw: str | None, name: str | None) -> None:
    assert clean_name(raw) == normalize_name(raw) == form_name(raw) == name


def test_the_length_limit_applies_to_the_clean_name() -> None:
    padded = "\x1b[31m" * 100 + "Ada" + " " * 300
    assert normalize_name(padded) == "Ada"
    assert normalize_name("N" * NAME_MAX) == "N" * NAME_MAX
    with pytest.raises(InvalidName, match=r"^name is too long \(201 characters, at most 200\)$"):
        normalize_name("N" * (NAME_MAX + 1))
    cut = form_name("word " * 100)
    assert cut is not None
    assert len(cut) <= NAME_MAX
    assert cut == cut.strip()
