"""Addresses: validated, normalised and lower-cased once, or refused with the reason."""

from __future__ import annotations

import hashlib

import pytest

from subscribers.addresses import InvalidAddress, address_hash, normalize_email


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
