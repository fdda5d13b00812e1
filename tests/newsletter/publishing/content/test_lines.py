"""YAML problems are reported at their line, a key written twice is refused, bytes YAML
cannot read are reported where they are, and a file built to exhaust the reader is refused
at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from newsletter.publishing.content import check_content
from newsletter.publishing.content.lines import MAX_FILE_BYTES
from tests.factories import COMPARISON_FILE, problems_in

EDITED = "content/comparisons/alpha-vs-beta.yaml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "title: Alpha vs Beta",
            "title: Alpha vs Beta\ntitle: Again",
            f"{EDITED}:3: YAML: duplicate key 'title'",
        ),
        (
            "verdict: Alpha for teams, Beta for solo work.",
            "verdict: [unclosed",
            f"{EDITED}:6: YAML: expected ',' or ']', but got ':'",
        ),
    ],
)
def test_yaml_problems_name_file_and_line(root: Path, old: str, new: str, expected: str) -> None:
    assert old in COMPARISON_FILE
    problems = problems_in(root, COMPARISON_FILE.replace(old, new))
    assert expected in problems, problems


def _write_bytes(root: Path, data: bytes, name: str = "alpha-vs-beta") -> list[str]:
    (root / "comparisons" / f"{name}.yaml").write_bytes(data)
    return [str(p) for p in check_content(root).problems]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_unreadable_bytes_are_reported_at_their_line_and_field(root: Path, newline: bytes) -> None:
    """Each at its own line and field, and the rest of the file is still checked."""
    data = COMPARISON_FILE.encode()
    data = data.replace(b"Alpha does one thing well.", b"Alpha does one thing \xe9ell.")
    data = data.replace(b'take: "Docs are thin."', b'take: "Docs are\x00 thin."')
    data = data.replace(b"question: Which one should you ship with?\n", b"")
    data = data.replace(b"\n", newline)
    assert _write_bytes(root, data) == [
        f"{EDITED}:1: question: is required",
        f"{EDITED}:11: tools[0].description: byte 0xE9 is not UTF-8 (save the file as UTF-8)",
        f"{EDITED}:26: reviews[0].takes.beta.take: NUL byte (0x00) is not allowed in text",
    ]


def test_a_control_character_in_the_file_is_reported_at_its_line(root: Path) -> None:
    data = COMPARISON_FILE.encode().replace(b"    vendor: Beta Corp", b"    vendor: Beta\x1bCorp")
    assert _write_bytes(root, data) == [
        f"{EDITED}:17: tools[1].vendor: control character U+001B is not allowed in text"
    ]


def test_a_slug_with_a_bad_byte_is_reported_once(root: Path) -> None:
    """The byte is the problem; the slug's pattern and the file name are not reported too."""
    data = COMPARISON_FILE.encode().replace(b"slug: alpha-vs-beta", b"slug: alpha-vs-b\xffta")
    assert _write_bytes(root, data) == [
        f"{EDITED}:1: slug: byte 0xFF is not UTF-8 (save the file as UTF-8)"
    ]


def test_a_bad_byte_in_a_leading_comment_hides_nothing(root: Path) -> None:
    data = b"# caf\xe9 notes\n" + COMPARISON_FILE.encode().replace(
        b"    url: https://beta", b"    url: beta"
    )
    assert _write_bytes(root, data) == [
        f"{EDITED}:1: byte 0xE9 is not UTF-8 (save the file as UTF-8)",
        f"{EDITED}:23: tools[1].url: must be an absolute http(s) URL, e.g. https://example.com/tool",
    ]


def test_aliases_are_refused_at_their_line(root: Path) -> None:
    text = COMPARISON_FILE.replace("    pricing: {entry: Paid}", "    pricing: *free").replace(
        "    pricing: {entry: Free, note: Self-hosted}", "    pricing: &free {entry: Free}"
    )
    assert problems_in(root, text) == [
        f"{EDITED}:21: YAML: alias '*free' is not allowed in content files; "
        "write the value out in full"
    ]


def test_a_billion_laughs_file_is_refused_at_once(root: Path) -> None:
    """Seven levels of nine aliases: 500 bytes that stand for three million strings, each
    visited by every walk over the document. (The command-line test runs a bigger one.)"""
    lines = ["slug: alpha-vs-beta", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 7):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    started = time.monotonic()
    problems = problems_in(root, "\n".join(lines) + "\n")
    assert time.monotonic() - started < 5
    assert problems == [
        f"{EDITED}:3: YAML: alias '*a0' is not allowed in content files; write the value out in full"
    ]


def test_deep_nesting_is_refused(root: Path) -> None:
    problems = problems_in(root, "slug: x\ntitle: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems == [f"{EDITED}:2: YAML: nested more than 32 levels deep"]


def test_a_number_too_long_to_read_is_refused(root: Path) -> None:
    text = COMPARISON_FILE.replace("    name: Beta", "    name: " + "9" * 5000)
    assert problems_in(root, text) == [
        f"{EDITED}:16: YAML: a number of 5000 characters is too long; "
        "put it in quotes if it is text"
    ]


def test_an_oversized_file_is_refused_unread(root: Path) -> None:
    padding = "# " + "x" * 98 + "\n"
    text = COMPARISON_FILE + padding * (MAX_FILE_BYTES // len(padding))
    assert len(text) > MAX_FILE_BYTES
    assert problems_in(root, text) == [
        f"{EDITED}:1: file is {len(text):,} bytes; the limit is {MAX_FILE_BYTES:,}"
    ]


def test_a_folder_named_like_a_file_is_reported(root: Path) -> None:
    (root / "comparisons" / "odd.yaml").mkdir()
    problems = [str(p) for p in check_content(root).problems]
    assert problems == ["content/comparisons/odd.yaml:1: cannot be read (Is a directory)"]


def test_every_problem_is_one_line(root: Path) -> None:
    """A key with a line break, quoted back in a message, is shown escaped."""
    text = COMPARISON_FILE.replace("title: Alpha vs Beta", 'title: Alpha vs Beta\n"ti\\ntle": x')
    assert problems_in(root, text) == [
        f"{EDITED}:3: ti\\ntle: unknown field (a typo?); a comparison has: slug, title, "
        "question, published, verdict, tools, reviews"
    ]
