"""Text from outside (a name, a CSV cell, an address typed on a command line) made safe to
keep, to send and to show. One definition of what is unsafe, used by the list (names are
cleaned once, where they come in), by the SendGrid request (display names stored by older
code) and by the CLI (everything it prints).

Unsafe, in text meant to be one line of a name:

- terminal escape sequences (ESC or the one-byte C1 introducers, and what follows them up
  to the sequence's end: colours, cursor moves, screen clears, window titles, hyperlinks);
- control characters (C0, DEL, C1: NUL, CR, LF, ESC, BEL...), line and paragraph
  separators, surrogates, private-use characters and non-characters;
- bidi controls (U+202E "right-to-left override" and its kin), which make a line read
  backwards, and the invisible format characters (zero-width space, word joiner, the byte
  order mark...). Joiners (U+200C, U+200D) and emoji tags stay: names in many scripts and
  emoji sequences need them.

`without_controls` removes them (what is stored and sent); `visible` writes each as its
escape, `\\x1b` or `\\u202e` (what is shown to an operator, who should see that something
odd is there, not have the terminal obey it).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

ESCAPE_SEQUENCE: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC: window titles, hyperlinks
    r"|\x1b[PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]"  # every other escape: ESC c (reset), ESC 7, ESC ( B, ESC # 8...
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the one-byte CSI of C1
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # C1 DCS, SOS, OSC...
)
"""A terminal escape sequence with its parameters; an unterminated string sequence runs to
the end of the text (a terminal would swallow it as well)."""

BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Marks that reorder the text around them: a name must not make a CLI line, a page or a
To: header read backwards."""

_KEPT_FORMAT: Final = frozenset("\u200c\u200d")  # zero-width non-joiner and joiner
_TAGS: Final = range(0xE0020, 0xE0080)  # emoji tag sequences (subdivision flags)
_BREAKING: Final = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")
"""Controls that separate words: removed as a space ("Grace\\nHopper" is "Grace Hopper");
every other unsafe character is removed without a trace ("A\\x00nn" is "Ann")."""


def is_unsafe(char: str) -> bool:
    """Whether one character is a control, a separator of lines, a bidi control or an
    invisible format character (see the module's description)."""
    if char.isprintable():
        return False  # letters, marks, digits, punctuation, symbols, the space
    category = unicodedata.category(char)
    if category == "Cf":
        return char not in _KEPT_FORMAT and ord(char) not in _TAGS
    if category == "Cn":  # unassigned here, maybe assigned in a newer Unicode (new emoji)
        return _noncharacter(char)
    return category in ("Cc", "Zl", "Zp", "Cs", "Co")


def _noncharacter(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def without_controls(text: str) -> str:
    """The text with every escape sequence and unsafe character removed, whitespace runs
    made one space and the ends trimmed: one clean line, maybe empty. Idempotent."""
    if text.isprintable() and "  " not in text and text == text.strip():
        return text  # the common case: nothing to do
    without_escapes = ESCAPE_SEQUENCE.sub("", text)
    kept = "".join(" " if c in _BREAKING else "" if is_unsafe(c) else c for c in without_escapes)
    return " ".join(kept.split())


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """The text with each unsafe character written as its escape (ESC as `\\x1b`, U+202E
    as `\\u202e`), so a terminal shows it instead of obeying it. Line feeds stay when
    `keep_newlines` (a table cell may have several lines); otherwise they are escaped too
    and the text stays one line. Idempotent: an escape is printable text."""
    if text.isprintable():
        return text
    return "".join(
        _escaped(c) if is_unsafe(c) and not (keep_newlines and c == "\n") else c for c in text
    )


_SHORT_ESCAPES: Final = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
