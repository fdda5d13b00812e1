"""Addresses: validated, normalised and lower-cased once, or refused with the reason; names\ncleaned once where they come in."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given, settings
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
    validated_email,
)
from subscribers.addresses import _plain as _plain


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


# -- the plain-ASCII shortcut against email-validator ------------------------------------


def _outcome(check: Callable[[str], str], raw: str) -> str:
    """What a check says of `raw`: the stored spelling, or the reason it is refused."""
    try:
        return "ok " + check(raw)
    except InvalidAddress as exc:
        return "refused " + str(exc)


def _library(raw: str) -> str:
    """email-validator alone, as `normalize_email` was before the shortcut."""
    candidate = raw.strip()
    if not candidate:
        raise InvalidAddress("not a valid address: it is empty")
    return validated_email(candidate)


def _agree(raw: str) -> None:
    assert _outcome(normalize_email, raw) == _outcome(_library, raw), repr(raw)


ATEXT = "!#$%&'*+-/=?^_`{|}~"
# Everything the shortcut's rule is near: atext, the specials of the syntax, whitespace,
# characters that case-fold or normalise into ASCII (Kelvin sign, long s, dotless i,
# fullwidth and ideographic dots, fullwidth @), combining marks, bidi and zero-width.
TRICKY = (
    "aAzZ09.-@" + ATEXT + '"\\<>()[],;: \t\r\n\x00\x7f'
    "\u212a\u017f\u0131\u0130\uff0e\u3002\uff20\ufe6b\u0301\u0338\u200b\u200d\u202e\u00df\u00e9"
)
SPECIAL_TLDS = ["com", "COM", "c0m", "c-m", "a1", "1", "x", "arpa", "invalid", "local",
                "localhost", "onion", "test", "Test", "example", "LocalHost"]  # fmt: skip

atoms = st.text("abcXYZ019" + ATEXT, min_size=1, max_size=10)
locals_ = st.one_of(
    st.lists(atoms, min_size=1, max_size=3).map(".".join),
    st.text("abcXYZ019." + ATEXT, max_size=12),
    st.text(TRICKY, max_size=6),
    st.sampled_from(["info", "Postmaster", '"quoted"', '"a@b"', "a..b", ".a", "a.", "x" * 64]),
)
labels = st.one_of(
    st.text("abcxnXN019-", min_size=1, max_size=8),
    st.text("abcxnzXN019-\u00e9\u212a\uff0e", max_size=8),
    st.integers(60, 66).map(lambda n: "l" * n),  # around 63, alone and several together
    st.sampled_from(["xn--80ak6aa92e", "XN--80AK6AA92E", "xn--", "ab--cd", "a--", "-a", "a-"]),
)
tlds = st.one_of(st.sampled_from(SPECIAL_TLDS), st.text("abzAZ09-", min_size=1, max_size=4))


@st.composite
def addresses(draw: st.DrawFn) -> str:
    """Mostly near-valid addresses (a local part, an @, labels, a top-level domain), with
    padding, lengths around the limits, special-use names, and doubled or missing parts."""
    local = draw(locals_)
    domain = ".".join([*draw(st.lists(labels, max_size=5)), draw(tlds)])
    at = draw(st.sampled_from(["@", "@", "@", "@", "@", "@@", "", "\uff20"]))
    pad = draw(st.sampled_from(["", "", " ", "\t", "\u00a0", "\n"]))
    length = draw(st.sampled_from([None, None, 253, 254, 255, 256]))  # around the limit
    if length is not None:
        local += "x" * max(0, length - len(local + at + domain))
    return pad + local + at + domain + pad


@settings(max_examples=1000)
@given(st.one_of(addresses(), st.text(TRICKY, max_size=24), st.text(max_size=16)))
def test_the_shortcut_gives_the_libraries_verdict_and_spelling(raw: str) -> None:
    _agree(raw)


@given(addresses())
def test_what_the_shortcut_accepts_the_library_accepts_unchanged_but_for_case(raw: str) -> None:
    plain = _plain(raw.strip())
    if plain is not None:
        assert plain == validated_email(raw.strip())


@pytest.mark.parametrize(
    "raw",
    [
        "ada@example.com",
        "ADA@EXAMPLE.COM",
        "Info@Example.com",  # RFC 2142 names: the library lower-cases them too
        "a@b.co",
        "a@b.c1",  # top-level domain ending in a digit
        "a@1.2.3.4",
        "a@[1.2.3.4]",
        "a@localhost",
        "a@b.localhost",
        "a@x.test",
        "a@x.TEST",
        "a@x.onion",
        "a@x.arpa",
        "a@x.invalid",
        "a@example",
        "a@ab--cd.com",
        "a@xn--80ak6aa92e.com",  # Punycode: the library stores it as Unicode
        "a@XN--80AK6AA92E.COM",
        "a@-a.com",
        "a@a-.com",
        "a@a..com",
        "a@.a.com",
        "a@a.com.",
        ".a@b.com",
        "a.@b.com",
        "a..b@c.com",
        '"a"@b.com',
        '"a b"@c.com',
        "Ada <ada@example.com>",
        "<ada@example.com>",
        "a@b@c.com",
        "a\u212a@b.com",  # Kelvin sign
        "a@\u212a.com",
        "a@b\uff0ecom",  # fullwidth dot
        "a@b\u3002com",
        "a\uff20b.com",
        "a@\u0130.com",
        "zo\u00eb@ex\u00e4mple.com",
        "e\u0301@b.com",  # combining accent
        "a@b.com\u200b",
        "a\u202e@b.com",
        "a@b.com\n",
        "a\nb@c.com",
        "a b@c.com",
        "x" * 64 + "@b.com",
        "x" * 65 + "@b.com",
        "a@" + "l" * 63 + ".com",
        "a@" + "l" * 64 + ".com",
        "a@" + ".".join(["d" * 62] * 4) + ".com",  # domain over 253
        "x" * 240 + "@bb.com",  # 247: under 254
        "x" * 247 + "@bb.com",  # 254: at the limit
        "x" * 248 + "@bb.com",  # 255: over
        "!#$%&'*+-/=?^_`{|}~@b.com",
        "a@b.c-m",
    ],
)
def test_known_edge_cases_get_the_libraries_answer(raw: str) -> None:
    _agree(raw)
